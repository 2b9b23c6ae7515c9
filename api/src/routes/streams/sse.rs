//! Server-sent events (`text/event-stream`), for EventSource.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use utoipa::IntoParams;

use super::feed::{Feed, Update};
use crate::auth::SubscriberCaller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ValidQuery;
use crate::state::AppState;

/// How long a client waits before reconnecting after the stream ends.
const RETRY: Duration = Duration::from_secs(3);
/// Comments sent on an idle stream, so proxies and clients see it alive.
const HEARTBEAT: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize, IntoParams, validator::Validate)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Resume after this inbox id (what the `Last-Event-ID` header says, for clients
    /// that cannot send it). Without either, the stream starts with what comes next.
    last_event_id: Option<i64>,
    /// The subscriber token, for EventSource (which cannot send headers).
    #[allow(dead_code)] // read by the authorisation layer
    token: Option<String>,
}

/// Server-sent events: `message` (an inbox item; its `id:` is the resume cursor),
/// `unread` (the `{count, version}` pair) and `read` (`{ids}`: read or archived
/// elsewhere; no ids means all). Missed items are replayed from the database on resume.
#[utoipa::path(get, path = "/v1/stream/sse", tag = "inbox",
    security(("subscriber_token" = [])),
    params(StreamQuery),
    responses((status = 200, content_type = "text/event-stream", description = "The event stream"),
        (status = 429, body = ErrorBody, description = "too_many_streams"), (status = 401, body = ErrorBody)))]
pub(super) async fn sse(
    State(state): State<AppState>,
    subscriber: SubscriberCaller,
    headers: HeaderMap,
    ValidQuery(query): ValidQuery<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .or(query.last_event_id);
    let feed = Feed::open(&state, &subscriber, resume, "sse").await?;
    let hint = futures::stream::once(async { Ok(Event::default().retry(RETRY)) });
    let updates = futures::stream::unfold(feed, |mut feed| async move {
        let update = feed.next().await?;
        Some((Ok(event_of(&update)), feed))
    });
    Ok(Sse::new(futures::StreamExt::chain(hint, updates))
        .keep_alive(KeepAlive::new().interval(HEARTBEAT)))
}

fn event_of(update: &Update) -> Event {
    let data = |value: serde_json::Value| value.to_string();
    match update {
        Update::Message { id, item } => Event::default()
            .event("message")
            .id(id.to_string())
            .data(item.json()),
        Update::Unread { count, version } => Event::default().event("unread").data(data(
            serde_json::json!({ "count": count, "version": version }),
        )),
        Update::Read { ids } => Event::default()
            .event("read")
            .data(data(serde_json::json!({ "ids": ids }))),
        Update::Recalled { ids } => Event::default()
            .event("recalled")
            .data(data(serde_json::json!({ "ids": ids }))),
    }
}
