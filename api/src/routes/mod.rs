//! One module per resource, each exposing `router()`; merged here.

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

mod api_keys;
mod audiences;
mod audit;
mod auth;
mod campaigns;
mod channels;
mod dead_letters;
mod deliveries;
mod event_endpoints;
mod halts;
mod health;
mod inbox;
mod list_entries;
mod messages;
mod operators;
mod pagination;
mod reports;
mod rules;
mod streams;
mod subscriber_endpoints;
mod subscriber_import;
mod subscriber_tokens;
mod subscribers;
mod templates;
mod unsubscribe;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(health::router())
        .merge(auth::router())
        .merge(operators::router())
        .merge(api_keys::router())
        .merge(audit::router())
        .merge(subscribers::router())
        .merge(subscriber_endpoints::router())
        .merge(templates::router())
        .merge(rules::router())
        .merge(audiences::router())
        .merge(list_entries::router())
        .merge(campaigns::router())
        .merge(channels::router())
        .merge(messages::router())
        .merge(dead_letters::router())
        .merge(deliveries::router())
        .merge(halts::router())
        .merge(event_endpoints::router())
        .merge(reports::router())
        .merge(unsubscribe::router())
        .merge(subscriber_tokens::router())
        .merge(inbox::router())
}

/// Routes that may legitimately take long (streamed uploads): no request timeout.
pub fn long_running() -> OpenApiRouter<AppState> {
    subscriber_import::router()
        .merge(streams::router())
        .merge(inbox::long_poll())
        .merge(audiences::uploads())
        .merge(list_entries::imports())
}
