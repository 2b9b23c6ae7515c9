//! A subscriber's push tokens, webhook URLs and MQTT topics.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use herald_core::entities::subscriber_endpoint;
use herald_core::subscribers::endpoints::{self, EndpointIn};
use herald_core::subscribers::store;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::subscribers::external_id;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, ValidJson};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, add_endpoint))
        .routes(routes!(remove_endpoint))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointOut {
    id: i64,
    /// `push`, `webhook` or `mqtt`.
    channel: String,
    /// `fcm`, `apns` or `jpush` for push endpoints.
    provider: Option<String>,
    address: String,
    /// False once a provider reported the endpoint dead.
    enabled: bool,
    disabled_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<subscriber_endpoint::Model> for EndpointOut {
    fn from(m: subscriber_endpoint::Model) -> Self {
        Self {
            id: m.id,
            channel: m.channel,
            provider: m.provider,
            address: m.address,
            enabled: m.enabled,
            disabled_reason: m.disabled_reason,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A subscriber's endpoints.
#[utoipa::path(get, path = "/v1/subscribers/{external_id}/endpoints", tag = "subscribers",
    security(("session" = ["subscribers:read"]), ("api_key" = ["subscribers:read"])),
    params(("external_id" = String, Path, description = "The product's id for the user")),
    responses((status = 200, body = Vec<EndpointOut>), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_endpoints(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<Vec<EndpointOut>>, ApiError> {
    let subscriber = store::find(&state.db, external_id(&raw)?).await?;
    let rows = endpoints::list(&state.db, subscriber.id).await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

/// Adds an endpoint; adding an existing one re-enables it.
#[utoipa::path(post, path = "/v1/subscribers/{external_id}/endpoints", tag = "subscribers",
    security(("session" = ["subscribers:write"]), ("api_key" = ["subscribers:write"])),
    params(("external_id" = String, Path, description = "The product's id for the user")),
    request_body = EndpointIn,
    responses((status = 201, body = EndpointOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn add_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    ValidJson(input): ValidJson<EndpointIn>,
) -> Result<(StatusCode, Json<EndpointOut>), ApiError> {
    let stored = endpoints::add(&state.db, &caller.audit(), external_id(&raw)?, input).await?;
    Ok((StatusCode::CREATED, Json(stored.into())))
}

/// Removes an endpoint.
#[utoipa::path(delete, path = "/v1/subscribers/{external_id}/endpoints/{endpoint_id}", tag = "subscribers",
    security(("session" = ["subscribers:write"]), ("api_key" = ["subscribers:write"])),
    params(("external_id" = String, Path, description = "The product's id for the user"),
        ("endpoint_id" = i64, Path, description = "Endpoint id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn remove_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    Path((raw, endpoint_id)): Path<(String, i64)>,
) -> Result<StatusCode, ApiError> {
    endpoints::remove(&state.db, &caller.audit(), external_id(&raw)?, endpoint_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
