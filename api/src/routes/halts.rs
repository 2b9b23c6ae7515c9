//! The kill switch: stop all sending, one channel instance's or one campaign's at once,
//! and release it. Workers stop starting that work within a second; sends already under
//! way finish; nothing is lost.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use herald_core::halts::{self, HaltIn, HaltOut};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, ValidJson};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_halts, halt_sending))
        .routes(routes!(release_halt))
}

/// The stops in force, oldest first (an empty list: everything may send).
#[utoipa::path(get, path = "/v1/halts", tag = "halts",
    security(("session" = ["campaigns:read"])),
    responses((status = 200, body = Vec<HaltOut>, description = "The stops in force"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_halts(State(state): State<AppState>) -> Result<Json<Vec<HaltOut>>, ApiError> {
    Ok(Json(halts::list(&state.db).await?))
}

/// Stops sending: everywhere (`all`), through one channel instance (`channel`), or
/// for one campaign (`campaign`). Workers start no such send from a second later;
/// sends under way finish and are recorded; the rest wait, and go out when the stop
/// is released. Stopping what is already stopped answers the stop in force (200).
/// Audited as `sending.halt`.
#[utoipa::path(post, path = "/v1/halts", tag = "halts",
    security(("session" = ["sending:halt"])),
    request_body = HaltIn,
    responses((status = 201, body = HaltOut, description = "Stopped"),
        (status = 200, body = HaltOut, description = "It was already stopped: the stop in force"),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn halt_sending(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(input): ValidJson<HaltIn>,
) -> Result<(StatusCode, Json<HaltOut>), ApiError> {
    let (halt, new) = halts::halt(&state.db, &caller.audit(), input).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(halt)))
}

/// Releases a stop: what it held goes out, where it stopped. Audited as
/// `sending.release`.
#[utoipa::path(delete, path = "/v1/halts/{id}", tag = "halts",
    security(("session" = ["sending:halt"])),
    params(("id" = i64, Path, description = "Stop id")),
    responses((status = 200, body = HaltOut, description = "Released: the stop as it was"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn release_halt(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<HaltOut>, ApiError> {
    let released = halts::release(&state.db, &caller.audit(), id).await?;
    // This process's worker (herald serve) looks for the work at once.
    state.doorbell.ring();
    Ok(Json(released))
}
