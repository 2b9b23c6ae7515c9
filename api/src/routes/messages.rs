//! Transactional sends for product services: accept, answer 202 with the message id,
//! and report per-recipient, per-channel status.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use herald_core::messages::{self, Accepted, MessageReport, RecallOut, SendIn, SendRequest};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, ValidJson};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_message))
        .routes(routes!(get_message))
        .routes(routes!(recall_message))
}

/// Recalls a message: its inbox items leave every inbox (open connections get a
/// `recalled` frame and the unread count drops, with a new version; a later resume
/// never shows them), and deliveries not made yet are cancelled. What email, push,
/// webhook and MQTT already delivered cannot be taken back: the answer counts it per
/// channel. Only its sender may recall it; a repeat withdraws nothing more. Audited as
/// `message.recall`.
#[utoipa::path(post, path = "/v1/messages/{id}/recall", tag = "messages",
    security(("api_key" = ["messages:send"]), ("session" = ["messages:send"])),
    params(("id" = i64, Path, description = "Message id")),
    responses((status = 200, body = RecallOut, description = "What the recall withdrew, cancelled, and could not reach"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn recall_message(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<RecallOut>, ApiError> {
    let sender = caller.sender();
    Ok(Json(
        messages::recall(&state.db, &state.bus, &caller.audit(), id, Some(&sender)).await?,
    ))
}

const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The `Idempotency-Key` header: 1 to 200 printable ASCII characters, if given.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| (1..=200).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()));
    match key {
        Some(key) => Ok(Some(key.to_owned())),
        None => Err(herald_core::Error::invalid(
            "Idempotency-Key",
            "must be 1 to 200 printable ASCII characters",
        )
        .into()),
    }
}

/// Sends a message to up to 1,000 subscribers. Rules, opt-outs and lists apply; the
/// answer counts what will be sent now, what was filtered and what waits for quiet
/// hours, and lists the recipients that are no subscriber (the others are sent to; a
/// send to none that exist is refused). With `Idempotency-Key`, a repeat of the same
/// request by the same API key (or operator) returns the first answer and sends nothing
/// again; the same key with a different body is refused (422).
#[utoipa::path(post, path = "/v1/messages", tag = "messages",
    security(("api_key" = ["messages:send"]), ("session" = ["messages:send"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries of this request safe")),
    request_body = SendIn,
    responses((status = 202, body = Accepted), (status = 422, body = ErrorBody, description = "invalid_input or banned_content"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn send_message(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ValidJson(input): ValidJson<SendIn>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let request = SendRequest {
        sender: caller.sender(),
        idempotency_key: idempotency_key(&headers)?,
        input,
    };
    let accepted = state.sends.send(request).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

/// A message with the status of every delivery. Only its sender may read it.
#[utoipa::path(get, path = "/v1/messages/{id}", tag = "messages",
    security(("api_key" = ["messages:send"]), ("session" = ["messages:send"])),
    params(("id" = i64, Path, description = "Message id")),
    responses((status = 200, body = MessageReport), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_message(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<MessageReport>, ApiError> {
    Ok(Json(
        messages::report(&state.db, &caller.sender(), id).await?,
    ))
}
