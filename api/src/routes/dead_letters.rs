//! Dead letters: list them (by campaign, channel or error) and re-drive them.

use axum::Json;
use axum::extract::State;
use herald_core::channel::ChannelKind;
use herald_core::deliveries::dead::{self, DeadFilter, DeadLetter, RedriveIn, Redriven};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use validator::Validate;

use super::pagination::{DEFAULT_LIMIT, next_cursor, parse_cursor};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ValidJson, ValidQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_dead_letters))
        .routes(routes!(redrive))
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadQuery {
    campaign_id: Option<i64>,
    channel: Option<ChannelKind>,
    /// Part of the last error, e.g. `503`.
    #[validate(length(min = 1, max = 200))]
    error: Option<String>,
    cursor: Option<String>,
    /// 1 to 500 (default 50).
    #[validate(range(min = 1, max = 500))]
    limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadPage {
    items: Vec<DeadLetter>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    next_cursor: Option<String>,
}

/// Deliveries whose retries ran out, newest first.
#[utoipa::path(get, path = "/v1/dead-letters", tag = "deliveries",
    security(("session" = ["deliveries:read"])),
    params(DeadQuery),
    responses((status = 200, body = DeadPage), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_dead_letters(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<DeadQuery>,
) -> Result<Json<DeadPage>, ApiError> {
    let before_id = parse_cursor(query.cursor.as_deref())?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let filter = DeadFilter {
        campaign_id: query.campaign_id,
        channel: query.channel,
        error: query.error,
    };
    let items = dead::list(&state.db, &filter, before_id, limit).await?;
    let next_cursor = next_cursor(&items, limit, |d| d.delivery_id);
    Ok(Json(DeadPage { items, next_cursor }))
}

/// Queues dead letters again, by id or all that match a filter. Attempts start over;
/// each delivery keeps its idempotency key. Audited.
#[utoipa::path(post, path = "/v1/dead-letters/redrive", tag = "deliveries",
    security(("session" = ["deliveries:redrive"])),
    request_body = RedriveIn,
    responses((status = 200, body = Redriven), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn redrive(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(input): ValidJson<RedriveIn>,
) -> Result<Json<Redriven>, ApiError> {
    let redriven = dead::redrive(&state.db, &caller.audit(), input).await?;
    state.doorbell.ring();
    Ok(Json(redriven))
}
