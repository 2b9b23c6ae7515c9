//! The OpenAPI document: collected from the routers, plus what no route declares
//! (info, security schemes, tags, the error codes of each operation).

mod errors;
mod successes;

pub use errors::document_errors;
pub use successes::describe_successes;

use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi as _};

use crate::auth::access::{API_KEY_SCHEME, SESSION_SCHEME, SUBSCRIBER_TOKEN_SCHEME};
use crate::auth::cookies::SESSION_COOKIE;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Herald",
        description = "Self-hosted multi-channel message push. Operators log in with a session cookie \
(state-changing requests also send `X-CSRF-Token`); product services send `Authorization: Bearer <api key>`. \
Each operation lists the permission it needs as the scope of its security requirement. \
Errors always have the shape `{\"error\": {\"code\", \"message\", \"field\"}}`; each operation lists \
the statuses and codes it answers. Any operation may also answer 408 `timeout` (it ran longer than \
`http.request_timeout_secs`) or 500 `internal` (a fault, logged), and an unknown route or method 404 \
`not_found` or 405 `method_not_allowed`.",
        license(name = "Apache-2.0"),
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "operations", description = "Health and readiness"),
        (name = "auth", description = "Operator login sessions"),
        (name = "operators", description = "People who use the console, and their roles"),
        (name = "api-keys", description = "Keys for product services"),
        (name = "audit", description = "Who changed what"),
        (name = "subscribers", description = "The product's users, their endpoints and preferences"),
        (name = "inbox", description = "A subscriber's own in-app inbox, read with a subscriber token"),
        (name = "templates", description = "Versioned content per channel, rendered strictly"),
        (name = "audiences", description = "Everyone, lists, uploaded files and segments, with live counts"),
        (name = "campaigns", description = "Campaigns and their review: reviewers never approve their own work"),
        (name = "rules", description = "Frequency caps, quiet hours, keyword filters, dedup windows"),
        (name = "messages", description = "Transactional sends from product services, with idempotency keys and per-recipient status"),
        (name = "deliveries", description = "The delivery log, per-delivery traces, dead letters and their re-drive"),
        (name = "reports", description = "Delivery reports for auditors (by campaign, channel, day and status; filtered deliveries by rule; a funnel per campaign), as JSON or streamed CSV"),
        (name = "channels", description = "Channel instances (SMTP, webhooks, push providers, MQTT) with write-only secrets, and test sends"),
        (name = "halts", description = "The kill switch: stop all sending, a channel instance's or a campaign's at once, and release it"),
        (name = "events", description = "Delivery events to products: endpoints that receive signed batches of what happened to deliveries, and the log of those batches"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SESSION_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "Operator session from POST /v1/auth/login (named `__Host-herald_session` when Herald is served over HTTPS)",
            ))),
        );
        components.add_security_scheme(
            API_KEY_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key: `Authorization: Bearer hk_…`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            SUBSCRIBER_TOKEN_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A subscriber token (HS256 JWT with `sub` = external id and `exp`), from \
                         POST /v1/subscribers/{external_id}/tokens or signed by the product with \
                         `auth.subscriber_token_secret`. Streams also take it as `?token=`.",
                    ))
                    .build(),
            ),
        );
    }
}

pub fn base() -> OpenApi {
    ApiDoc::openapi()
}
