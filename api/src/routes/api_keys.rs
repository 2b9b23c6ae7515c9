//! API keys for product services (admins only). The secret is in the create response
//! and nowhere else.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use herald_core::access::Scope;
use herald_core::api_keys::{self, NewApiKey};
use herald_core::entities::api_key;
use herald_core::listing::NameSort;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::pagination::ListQuery;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, ValidJson, ValidQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(revoke_api_key))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyOut {
    id: i64,
    name: String,
    /// The public part of the key (`hk_<prefix>_…`), to recognise it.
    prefix: String,
    scopes: Vec<Scope>,
    created_by: Option<i64>,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
}

impl From<api_key::Model> for ApiKeyOut {
    fn from(model: api_key::Model) -> Self {
        Self {
            scopes: api_keys::scopes_of(&model),
            id: model.id,
            name: model.name,
            prefix: model.prefix,
            created_by: model.created_by,
            created_at: model.created_at,
            expires_at: model.expires_at,
            revoked_at: model.revoked_at,
            last_used_at: model.last_used_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKeyOut {
    api_key: ApiKeyOut,
    /// The key to send as `Authorization: Bearer <secret>`. Shown this once only.
    secret: String,
}

/// API keys whose name contains `search`, revoked ones included; oldest first unless
/// `sort` says otherwise.
#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys",
    security(("session" = ["api_keys:manage"])),
    params(ListQuery),
    responses((status = 200, body = Vec<ApiKeyOut>), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_api_keys(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<ListQuery>,
) -> Result<Json<Vec<ApiKeyOut>>, ApiError> {
    let (sort, window) = query.split(NameSort::Oldest);
    Ok(Json(
        api_keys::list(&state.db, sort, &window)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Creates a key with scopes. The response holds the secret, which is not stored.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys",
    security(("session" = ["api_keys:manage"])),
    request_body = NewApiKey,
    responses((status = 201, body = CreatedApiKeyOut), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_api_key(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(input): ValidJson<NewApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKeyOut>), ApiError> {
    let created = api_keys::create(&state.db, &caller.audit(), input).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKeyOut {
            api_key: created.model.into(),
            secret: created.secret,
        }),
    ))
}

/// Revokes a key: it stops working at once. The record stays for the audit trail.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys",
    security(("session" = ["api_keys:manage"])),
    params(("id" = i64, Path, description = "API key id")),
    responses((status = 200, body = ApiKeyOut), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn revoke_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<ApiKeyOut>, ApiError> {
    let revoked = api_keys::revoke(&state.db, &caller.audit(), id).await?;
    state.api_keys.forget(revoked.id);
    Ok(Json(revoked.into()))
}
