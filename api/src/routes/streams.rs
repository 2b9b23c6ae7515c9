//! Realtime inbox transports. Each connection sends what is new in the subscriber's
//! inbox: it reads from the database after the last id it sent, whenever the bus says
//! something changed, so a resumed connection gets every missed item once, in order.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use herald_core::inbox::store::{self, latest_id};
use herald_core::inbox::{InboxItem, Page, Signal, Unread};
use sea_orm::DatabaseConnection;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::SubscriberCaller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sse))
}

/// Items read from the database per query while catching up.
const REPLAY_PAGE: u64 = 200;
/// How long a client waits before reconnecting after the stream ends.
const RETRY: Duration = Duration::from_secs(3);
/// Comments sent on an idle stream, so proxies and clients see it alive.
const HEARTBEAT: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize, IntoParams)]
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
        (status = 401, body = ErrorBody)))]
async fn sse(
    State(state): State<AppState>,
    subscriber: SubscriberCaller,
    headers: HeaderMap,
    Query(query): Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .or(query.last_event_id);
    // Listen before reading, so nothing stored in between goes unannounced.
    let signals = state.bus.subscribe(subscriber.id);
    let after = match resume {
        Some(id) => id,
        None => latest_id(&state.db, subscriber.id).await?,
    };
    let feed = Feed {
        closing: state.closing.clone(),
        db: state.db.clone(),
        subscriber_id: subscriber.id,
        after,
        signals,
        pending: VecDeque::from([Event::default().retry(RETRY)]),
        caught_up: false,
    };
    let stream = futures::stream::unfold(feed, |mut feed| async move {
        let event = feed.next().await?;
        Some((Ok(event), feed))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(HEARTBEAT)))
}

/// One connection's position in the subscriber's inbox.
struct Feed {
    closing: CancellationToken,
    db: DatabaseConnection,
    subscriber_id: i64,
    /// The last item id sent.
    after: i64,
    signals: broadcast::Receiver<Signal>,
    pending: VecDeque<Event>,
    caught_up: bool,
}

impl Feed {
    /// The next event; `None` ends the stream (the client resumes from its last id).
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if !self.caught_up {
                self.caught_up = true;
                self.read_new().await?;
                continue;
            }
            let signal = tokio::select! {
                () = self.closing.cancelled() => return None,
                signal = self.signals.recv() => signal,
            };
            match signal {
                Ok(Signal::Items) | Err(RecvError::Lagged(_)) => self.read_new().await?,
                Ok(Signal::Read { ids, unread }) => {
                    self.pending
                        .push_back(json_event("read", &json!({ "ids": ids })));
                    self.pending.push_back(unread_event(unread));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// Queues every item after the last one sent, then the unread pair. `None` when the
    /// database cannot be read: the stream ends and the client resumes later.
    async fn read_new(&mut self) -> Option<()> {
        match self.try_read_new().await {
            Ok(()) => Some(()),
            Err(error) => {
                tracing::warn!(%error, subscriber_id = self.subscriber_id, "inbox stream ended");
                None
            }
        }
    }

    async fn try_read_new(&mut self) -> herald_core::Result<()> {
        loop {
            let items = store::list(
                &self.db,
                self.subscriber_id,
                Page::After(self.after),
                REPLAY_PAGE,
            )
            .await?;
            let full = items.len() as u64 == REPLAY_PAGE;
            for item in items {
                self.after = item.id;
                self.pending.push_back(message_event(&item));
            }
            if !full {
                break;
            }
        }
        let unread = store::unread(&self.db, self.subscriber_id).await?;
        self.pending.push_back(unread_event(unread));
        Ok(())
    }
}

fn json_event(name: &str, data: &serde_json::Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

fn message_event(item: &InboxItem) -> Event {
    Event::default()
        .event("message")
        .id(item.id.to_string())
        .data(serde_json::to_string(item).unwrap_or_default())
}

fn unread_event(unread: Unread) -> Event {
    json_event(
        "unread",
        &json!({ "count": unread.count, "version": unread.version }),
    )
}
