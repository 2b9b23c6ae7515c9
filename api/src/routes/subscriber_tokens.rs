//! Minting subscriber tokens for a product's frontend.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use herald_core::inbox::tokens::MAX_TTL_SECS;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use validator::Validate;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, ValidJson};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(mint_token))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenIn {
    /// Seconds the token is valid: 60 to 2,592,000 (30 days); default 3,600.
    #[validate(range(min = 60, max = 2_592_000))]
    ttl_secs: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    /// Send as `Authorization: Bearer <token>`, or `?token=` on streams.
    token: String,
    expires_at: DateTime<Utc>,
}

/// A short-lived token with which the subscriber's client reads its own inbox.
#[utoipa::path(post, path = "/v1/subscribers/{external_id}/tokens", tag = "subscribers",
    security(("api_key" = ["subscribers:write"]), ("session" = ["subscribers:write"])),
    params(("external_id" = String, Path, description = "The subscriber's external id")),
    request_body = TokenIn,
    responses((status = 201, body = TokenOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn mint_token(
    State(state): State<AppState>,
    Path(external_id): Path<String>,
    ValidJson(input): ValidJson<TokenIn>,
) -> Result<(StatusCode, Json<TokenOut>), ApiError> {
    herald_core::subscribers::store::find(&state.db, &external_id).await?;
    let ttl = input.ttl_secs.unwrap_or(3_600).min(MAX_TTL_SECS);
    let ttl = Duration::seconds(i64::try_from(ttl).unwrap_or(3_600));
    let (token, expires_at) = state
        .token_keys()
        .await?
        .mint(&external_id, ttl, Utc::now())?;
    Ok((StatusCode::CREATED, Json(TokenOut { token, expires_at })))
}
