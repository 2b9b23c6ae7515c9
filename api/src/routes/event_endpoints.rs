//! Delivery events to products: endpoints that receive signed batches of what
//! happened to deliveries (delivered, failed, dead-lettered, read, dismissed,
//! unsubscribed, recalled), and the log of the batches each was sent.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use herald_core::events::batches::{self, BatchStatus, EventBatchOut};
use herald_core::events::endpoints::{
    self, CreatedEventEndpoint, EventEndpointIn, EventEndpointOut,
};
use herald_core::listing::NameSort;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use validator::Validate;

use super::pagination::ListQuery;
use super::pagination::{DEFAULT_LIMIT, next_cursor, parse_cursor};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, ValidJson, ValidQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_event_endpoints, create_event_endpoint))
        .routes(routes!(
            get_event_endpoint,
            update_event_endpoint,
            delete_event_endpoint
        ))
        .routes(routes!(list_event_batches))
        .routes(routes!(redrive_event_batches))
}

/// Event endpoints whose URL contains `search`; oldest first unless `sort` says
/// otherwise.
#[utoipa::path(get, path = "/v1/event-endpoints", tag = "events",
    security(("session" = ["events:manage"]), ("api_key" = ["events:manage"])),
    params(ListQuery),
    responses((status = 200, body = Vec<EventEndpointOut>, description = "The endpoints"),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_event_endpoints(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<ListQuery>,
) -> Result<Json<Vec<EventEndpointOut>>, ApiError> {
    let (sort, window) = query.split(NameSort::Oldest);
    Ok(Json(endpoints::list(&state.db, sort, &window).await?))
}

/// Registers an endpoint for the event types (and channels) it names. The answer
/// carries its signing secret, this once: batches are signed with it per Standard
/// Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`). Audited as
/// `event_endpoint.create`.
#[utoipa::path(post, path = "/v1/event-endpoints", tag = "events",
    security(("session" = ["events:manage"]), ("api_key" = ["events:manage"])),
    request_body = EventEndpointIn,
    responses((status = 201, body = CreatedEventEndpoint, description = "Registered, with its secret"),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_event_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(input): ValidJson<EventEndpointIn>,
) -> Result<(StatusCode, Json<CreatedEventEndpoint>), ApiError> {
    let created = endpoints::create(
        &state.db,
        state.sealer().await?,
        &state.settings.channel_destinations,
        &caller.audit(),
        input,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/v1/event-endpoints/{id}", tag = "events",
    security(("session" = ["events:manage"]), ("api_key" = ["events:manage"])),
    params(("id" = i64, Path, description = "Endpoint id")),
    responses((status = 200, body = EventEndpointOut, description = "The endpoint"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_event_endpoint(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<EventEndpointOut>, ApiError> {
    Ok(Json(endpoints::get(&state.db, id).await?))
}

/// Replaces an endpoint's URL, description, event types, channels and whether it is
/// on; the secret stays. Audited as `event_endpoint.update`.
#[utoipa::path(put, path = "/v1/event-endpoints/{id}", tag = "events",
    security(("session" = ["events:manage"]), ("api_key" = ["events:manage"])),
    params(("id" = i64, Path, description = "Endpoint id")),
    request_body = EventEndpointIn,
    responses((status = 200, body = EventEndpointOut, description = "The endpoint as it is now"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn update_event_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ValidJson(input): ValidJson<EventEndpointIn>,
) -> Result<Json<EventEndpointOut>, ApiError> {
    Ok(Json(
        endpoints::update(
            &state.db,
            &state.settings.channel_destinations,
            &caller.audit(),
            id,
            input,
        )
        .await?,
    ))
}

/// Removes an endpoint, what waits for it and the log of its batches. Audited as
/// `event_endpoint.delete`.
#[utoipa::path(delete, path = "/v1/event-endpoints/{id}", tag = "events",
    security(("session" = ["events:manage"]), ("api_key" = ["events:manage"])),
    params(("id" = i64, Path, description = "Endpoint id")),
    responses((status = 204, description = "Removed"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn delete_event_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    endpoints::delete(&state.db, &caller.audit(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BatchQuery {
    status: Option<BatchStatus>,
    cursor: Option<String>,
    /// 1 to 500 (default 50).
    #[validate(range(min = 1, max = 500))]
    limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventBatchPage {
    items: Vec<EventBatchOut>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    next_cursor: Option<String>,
}

/// The batches sent or waiting for an endpoint, newest first: each with its events,
/// tries, last error and the receiver's answer.
#[utoipa::path(get, path = "/v1/event-endpoints/{id}/batches", tag = "events",
    security(("session" = ["events:manage"]), ("api_key" = ["events:manage"])),
    params(("id" = i64, Path, description = "Endpoint id"), BatchQuery),
    responses((status = 200, body = EventBatchPage, description = "A page of batches"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_event_batches(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    ValidQuery(query): ValidQuery<BatchQuery>,
) -> Result<Json<EventBatchPage>, ApiError> {
    let before_id = parse_cursor(query.cursor.as_deref())?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let items = batches::list(&state.db, id, query.status, before_id, limit).await?;
    let next_cursor = next_cursor(&items, limit, |batch| batch.id);
    Ok(Json(EventBatchPage { items, next_cursor }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RedrivenBatches {
    /// Dead batches queued again.
    pub batches: u64,
}

/// Queues the endpoint's dead batches again, due now, with their retries fresh and
/// their `webhook-id` kept. Audited as `event_endpoint.redrive`.
#[utoipa::path(post, path = "/v1/event-endpoints/{id}/redrive", tag = "events",
    security(("session" = ["events:manage"]), ("api_key" = ["events:manage"])),
    params(("id" = i64, Path, description = "Endpoint id")),
    responses((status = 200, body = RedrivenBatches, description = "How many were queued again"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn redrive_event_batches(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<RedrivenBatches>, ApiError> {
    let batches = batches::redrive(&state.db, &caller.audit(), id).await?;
    Ok(Json(RedrivenBatches { batches }))
}
