//! WebSocket: the same updates as SSE as JSON text frames, and client frames to mark
//! items read, acknowledge them and resume from an id.

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use herald_core::ErrorCode;
use herald_core::inbox::{Action, act_now};
use serde::Deserialize;
use utoipa::IntoParams;

use super::feed::{End, Feed, Update};
use crate::auth::SubscriberCaller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ValidQuery;
use crate::state::AppState;

/// Close code 1012 (service restart): reconnect and resume.
const RESTARTING: u16 = 1012;
/// Close code 1013 (try again later): the client read too slowly; resume.
const TOO_SLOW: u16 = 1013;
/// Close code 1011: the server failed; resume.
const FAILED: u16 = 1011;
/// Close code 4001 (ours): the token expired or was revoked; reconnect with a new one.
const TOKEN_ENDED: u16 = 4001;
/// Socket buffers per connection: client frames are small (the read buffer grows for a
/// larger one), and what is sent waits in the bus rather than here, so an idle
/// connection holds little memory.
const READ_BUFFER: usize = 1024;
const WRITE_BUFFER: usize = 8 * 1024;
/// The most a connection may have waiting to be written before it counts as stuck.
const MAX_WRITE_BUFFER: usize = 1024 * 1024;
/// Client frames are actions and ids.
const MAX_CLIENT_FRAME: usize = 16 * 1024;

#[derive(Debug, Deserialize, IntoParams, validator::Validate)]
#[into_params(parameter_in = Query)]
pub struct WsQuery {
    /// Resume after this inbox id; without it the stream starts with what comes next.
    last_event_id: Option<i64>,
    /// The subscriber token (browsers cannot set headers on a WebSocket).
    #[allow(dead_code)] // read by the authorisation layer
    token: Option<String>,
}

/// What a client may send.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
enum ClientFrame {
    Read {
        id: i64,
    },
    ReadAll,
    Archive {
        id: i64,
    },
    /// `received` or `displayed`.
    Ack {
        id: i64,
        status: AckStatus,
    },
    /// Continue after this id (for example after the client restored its state).
    Resume {
        after: i64,
    },
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum AckStatus {
    Received,
    Displayed,
}

/// WebSocket: JSON frames `{"event":"message","id":…,"item":{…}}`,
/// `{"event":"unread","count":…,"version":…}` and `{"event":"read","ids":[…]}`. The
/// client may send `{"action":"read","id":…}`, `{"action":"read_all"}`,
/// `{"action":"archive","id":…}`, `{"action":"ack","id":…,"status":"received"}` and
/// `{"action":"resume","after":…}`. The server pings and drops peers that stop
/// answering.
#[utoipa::path(get, path = "/v1/stream/ws", tag = "inbox",
    security(("subscriber_token" = [])),
    params(WsQuery),
    responses((status = 101, description = "Switching to the WebSocket protocol"),
        (status = 429, body = ErrorBody, description = "too_many_streams"), (status = 401, body = ErrorBody)))]
pub(super) async fn ws(
    State(state): State<AppState>,
    subscriber: SubscriberCaller,
    ValidQuery(query): ValidQuery<WsQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(|rejection| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("not a WebSocket handshake: {}", rejection.body_text()),
        )
    })?;
    let feed = Feed::open(&state, &subscriber, query.last_event_id, "websocket").await?;
    Ok(upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(MAX_CLIENT_FRAME)
        .max_frame_size(MAX_CLIENT_FRAME)
        .on_upgrade(move |socket| connection(socket, state, subscriber, feed)))
}

async fn connection(
    socket: WebSocket,
    state: AppState,
    subscriber: SubscriberCaller,
    mut feed: Feed,
) {
    let (mut sink, mut incoming) = socket.split();
    // A peer that stops reading fails a write here after the connection's stall limit
    // (see `serve::stall`); the loop, pings included, ends with it.
    // A ping every interval; a peer that has not answered the previous one is dropped.
    let mut ping = tokio::time::interval(state.settings.stream_ping);
    ping.reset();
    let mut answered = true;
    loop {
        // Biased, updates first: a broadcast wakes every connection for one, and the
        // client's frames and the ping timer are polled whenever none waits, which is
        // after every burst (a connection that stays behind is cut off by its feed).
        tokio::select! {
            biased;
            update = feed.next() => {
                let Some(update) = update else {
                    let (code, reason) = match feed.ended() {
                        Some(End::Overflow) => (TOO_SLOW, "fell behind; resume from your last id"),
                        Some(End::Failed) => (FAILED, "resume from your last id"),
                        Some(End::TokenEnded) => (TOKEN_ENDED, "the token expired or was revoked; reconnect with a new one"),
                        Some(End::Closing) | None => (RESTARTING, "resume from your last id"),
                    };
                    let close = CloseFrame { code, reason: reason.into() };
                    let _ = sink.send(Message::Close(Some(close))).await;
                    return;
                };
                // Everything already queued goes out in one write (a new item and the
                // unread pair that follows it, a page of replayed items).
                let mut update = Some(update);
                while let Some(next) = update.take().or_else(|| feed.next_queued()) {
                    let text = frame_of(&next);
                    if sink.feed(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                if sink.flush().await.is_err() {
                    return;
                }
            }
            frame = incoming.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    // Boxed: an idle connection should not carry the space of the
                    // database calls behind a client frame (kilobytes) while it waits.
                    let handled = Box::pin(handle(&state, &subscriber, &mut feed, &text));
                    if let Some(reply) = handled.await
                        && sink.send(Message::Text(reply.into())).await.is_err()
                    {
                        return;
                    }
                }
                Some(Ok(Message::Pong(_))) => answered = true,
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if !answered || sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
                answered = false;
            }
        }
    }
}

/// An update as a text frame; an item's JSON is the one every connection shares.
fn frame_of(update: &Update) -> String {
    match update {
        Update::Message { id, item } => {
            format!(r#"{{"event":"message","id":{id},"item":{}}}"#, item.json())
        }
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Carries out a client frame; answers with an error frame when it cannot.
async fn handle(
    state: &AppState,
    subscriber: &SubscriberCaller,
    feed: &mut Feed,
    text: &str,
) -> Option<String> {
    let frame: ClientFrame = match serde_json::from_str(text) {
        Ok(frame) => frame,
        Err(error) => return Some(error_frame(&format!("unreadable frame: {error}"))),
    };
    let action = match frame {
        ClientFrame::Resume { after } => {
            feed.resume_after(after);
            return None;
        }
        ClientFrame::Read { id } => Action::Read(id),
        ClientFrame::Archive { id } => Action::Archive(id),
        ClientFrame::ReadAll => Action::ReadAll,
        ClientFrame::Ack {
            id,
            status: AckStatus::Received,
        } => Action::Received(id),
        ClientFrame::Ack {
            id,
            status: AckStatus::Displayed,
        } => Action::Displayed(id),
    };
    // Every connection of the subscriber, this one included, hears of a change.
    match act_now(&state.db, &state.bus, subscriber.id, action).await {
        Ok(_) => None,
        Err(error) => Some(error_frame(&ApiError::from(error).message)),
    }
}

fn error_frame(message: &str) -> String {
    serde_json::json!({ "event": "error", "message": message }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_frame_built_from_the_shared_encoding_is_the_update_serialised() {
        let update = Update::Message {
            id: 3,
            item: crate::routes::streams::sample_item(3).into(),
        };
        let framed: serde_json::Value = serde_json::from_str(&frame_of(&update)).unwrap();
        assert_eq!(framed, serde_json::to_value(&update).unwrap());
        assert_eq!(framed["event"], "message");
    }
}
