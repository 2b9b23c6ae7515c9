//! The delivery log: filtered, paged, and one delivery's trace with every attempt.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use herald_core::channel::ChannelKind;
use herald_core::deliveries::DeliveryStatus;
use herald_core::deliveries::log::{self, DeliveryEntry, DeliveryFilter, DeliveryTrace};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use validator::Validate;

use super::pagination::{DEFAULT_LIMIT, next_cursor, parse_cursor};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ValidQuery;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
pub struct DeliveryQuery {
    campaign_id: Option<i64>,
    message_id: Option<i64>,
    /// A subscriber's external id.
    #[validate(length(min = 1, max = 255))]
    subscriber: Option<String>,
    channel: Option<ChannelKind>,
    status: Option<DeliveryStatus>,
    /// Changed at or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Changed before this time (RFC 3339).
    until: Option<DateTime<Utc>>,
    cursor: Option<String>,
    /// 1 to 500 (default 50).
    #[validate(range(min = 1, max = 500))]
    limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    items: Vec<DeliveryEntry>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    next_cursor: Option<String>,
}

/// Deliveries, newest first, with filters: the log auditors read.
#[utoipa::path(get, path = "/v1/deliveries", tag = "deliveries",
    security(("session" = ["deliveries:read"])),
    params(DeliveryQuery),
    responses((status = 200, body = DeliveryPage), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_deliveries(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<DeliveryQuery>,
) -> Result<Json<DeliveryPage>, ApiError> {
    let before_id = parse_cursor(query.cursor.as_deref())?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let filter = DeliveryFilter {
        campaign_id: query.campaign_id,
        message_id: query.message_id,
        subscriber: query.subscriber,
        channel: query.channel,
        status: query.status,
        since: query.since,
        until: query.until,
    };
    let items = log::list(&state.db, &filter, before_id, limit).await?;
    let next_cursor = next_cursor(&items, limit, |d| d.id);
    Ok(Json(DeliveryPage { items, next_cursor }))
}

/// One delivery and every attempt at it: what was decided, why, and what each provider
/// answered.
#[utoipa::path(get, path = "/v1/deliveries/{id}", tag = "deliveries",
    security(("session" = ["deliveries:read"])),
    params(("id" = i64, Path, description = "Delivery id")),
    responses((status = 200, body = DeliveryTrace), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_delivery(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<DeliveryTrace>, ApiError> {
    Ok(Json(log::trace(&state.db, id).await?))
}
