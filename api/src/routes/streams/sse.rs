//! Server-sent events (`text/event-stream`), for EventSource.

use std::fmt::Write;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

use super::feed::{Feed, Update, streamed_body};
use crate::auth::SubscriberCaller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ValidQuery;
use crate::state::AppState;

/// How long a client waits before reconnecting after the stream ends.
const RETRY: Duration = Duration::from_secs(3);

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
) -> Result<Response, ApiError> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .or(query.last_event_id);
    let feed = Feed::open(&state, &subscriber, resume, "sse").await?;
    let hint = format!("retry: {}\n\n", RETRY.as_millis());
    // Written here rather than through axum's `Sse`, which built each event in a
    // growing buffer and re-armed its keep-alive timer after every event.
    let body = streamed_body(feed, hint, ":\n\n", write_event);
    Response::builder()
        .header(CONTENT_TYPE, "text/event-stream")
        .header(CACHE_CONTROL, "no-cache")
        .body(body)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// Appends one update as an event. Every `data` is compact JSON, which holds no line
/// break (JSON strings escape them), so it fits one `data:` line.
fn write_event(out: &mut String, update: &Update) {
    // Writing to a String cannot fail.
    let _ = match update {
        Update::Message { id, item } => {
            let json = item.json();
            out.reserve(json.len() + 48);
            write!(out, "event: message\nid: {id}\ndata: {json}\n\n")
        }
        Update::Unread { count, version } => write!(
            out,
            "event: unread\ndata: {{\"count\":{count},\"version\":{version}}}\n\n"
        ),
        Update::Read { ids } => write!(out, "event: read\ndata: {}\n\n", ids_json(ids)),
        Update::Recalled { ids } => {
            write!(out, "event: recalled\ndata: {}\n\n", ids_json(ids))
        }
    };
}

fn ids_json(ids: &[i64]) -> String {
    serde_json::json!({ "ids": ids }).to_string()
}

#[cfg(test)]
mod tests {
    use herald_core::inbox::InboxItem;

    use super::*;

    #[test]
    fn events_hold_one_data_line_of_the_shared_json() {
        let item = crate::routes::streams::sample_item(9);
        let mut out = String::new();
        write_event(
            &mut out,
            &Update::Message {
                id: 9,
                item: item.clone().into(),
            },
        );
        write_event(
            &mut out,
            &Update::Unread {
                count: 2,
                version: 7,
            },
        );
        write_event(&mut out, &Update::Read { ids: vec![3, 4] });
        let events: Vec<&str> = out.split_terminator("\n\n").collect();
        assert_eq!(events.len(), 3, "{out}");
        let message: Vec<&str> = events[0].lines().collect();
        assert_eq!(message[..2], ["event: message", "id: 9"]);
        let data = message[2].strip_prefix("data: ").unwrap();
        assert_eq!(serde_json::from_str::<InboxItem>(data).unwrap(), item);
        assert_eq!(message.len(), 3, "the item's line break stays escaped");
        assert_eq!(
            events[1],
            "event: unread\ndata: {\"count\":2,\"version\":7}"
        );
        assert_eq!(events[2], "event: read\ndata: {\"ids\":[3,4]}");
    }
}
