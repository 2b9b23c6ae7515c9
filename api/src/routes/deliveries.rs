//! The delivery log: filtered, paged, and one delivery's trace with every attempt; with
//! `?format=csv`, every matching delivery as a streamed CSV download.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use herald_core::channel::ChannelKind;
use herald_core::deliveries::DeliveryStatus;
use herald_core::deliveries::log::{self, DeliveryEntry, DeliveryFilter, DeliveryTrace, LogCursor};
use herald_core::deliveries::shared_entries;
use herald_core::reports::delivery_log_csv;
use herald_core::subscribers::input::parse_external_id;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use validator::Validate;

use super::pagination::DEFAULT_LIMIT;
use super::reports::{Format, csv_download};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, ValidQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(get_shared_delivery))
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    campaign_id: Option<i64>,
    message_id: Option<i64>,
    /// A subscriber's external id.
    #[validate(length(min = 1, max = 255))]
    subscriber: Option<String>,
    channel: Option<ChannelKind>,
    #[param(inline)]
    status: Option<DeliveryStatus>,
    /// Changed at or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Changed before this time (RFC 3339).
    until: Option<DateTime<Utc>>,
    cursor: Option<String>,
    /// 1 to 500 (default 50); JSON pages only.
    #[validate(range(min = 1, max = 500))]
    limit: Option<u64>,
    /// `json` (default): one page. `csv`: every matching delivery (from `cursor`, when
    /// given), newest first, streamed as it is read.
    #[param(inline)]
    format: Option<Format>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    items: Vec<DeliveryEntry>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    next_cursor: Option<String>,
}

/// Deliveries, newest first, with filters: the log auditors read. `?format=csv`
/// downloads every delivery the same filters match (one subscriber's trace, a campaign,
/// a period…), streamed page by page however long the log is.
#[utoipa::path(get, path = "/v1/deliveries", tag = "deliveries",
    security(("session" = ["deliveries:read"])),
    params(DeliveryQuery),
    responses(
        (status = 200, description = "A page of the log, or all of it as CSV", content(
            (DeliveryPage = "application/json"),
            (String = "text/csv", example = "id,item_id,message_id,recipient,channel,status,filter,rule_id,list_entry_id,reason,attempts,not_before,created_at,updated_at\n\
                17,,2,user-42,email,delivered,,,,,1,,2026-11-22T09:00:00.000000Z,2026-11-22T09:00:01.250000Z\n"))),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_deliveries(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<DeliveryQuery>,
) -> Result<Response, ApiError> {
    let from = match query.cursor.as_deref() {
        None => LogCursor::START,
        Some(text) => LogCursor::parse(text)
            .ok_or_else(|| ApiError::validation("cursor", "is not a cursor this API gave out"))?,
    };
    let filter = DeliveryFilter {
        campaign_id: query.campaign_id,
        message_id: query.message_id,
        subscriber: query.subscriber,
        channel: query.channel,
        status: query.status,
        since: query.since,
        until: query.until,
    };
    if query.format == Some(Format::Csv) {
        let chunks = delivery_log_csv(state.db.clone(), filter, from).await?;
        return Ok(csv_download("deliveries.csv", chunks));
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let (items, next) = log::list(&state.db, &filter, from, limit).await?;
    let next_cursor = next.map(|cursor| cursor.encode());
    Ok(Json(DeliveryPage { items, next_cursor }).into_response())
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

/// A shared entry of the log (one without a delivery id: a broadcast's recipient,
/// logged by its shared inbox item) with its attempt and what the recipient's client
/// reported.
#[utoipa::path(get, path = "/v1/deliveries/shared/{item_id}/{recipient}", tag = "deliveries",
    security(("session" = ["deliveries:read"])),
    params(("item_id" = i64, Path, description = "The shared inbox item"),
        ("recipient" = String, Path, description = "The subscriber's external id")),
    responses((status = 200, body = DeliveryTrace), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_shared_delivery(
    State(state): State<AppState>,
    Path((item_id, recipient)): Path<(i64, String)>,
) -> Result<Json<DeliveryTrace>, ApiError> {
    let recipient = parse_external_id(&recipient).map_err(|_| {
        ApiError::validation(
            "recipient",
            "is no external id (1 to 255 bytes, no control characters)",
        )
    })?;
    Ok(Json(
        shared_entries::trace(&state.db, item_id, recipient).await?,
    ))
}
