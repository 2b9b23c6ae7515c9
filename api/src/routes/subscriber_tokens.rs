//! Minting subscriber tokens for a product's frontend, and revoking them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use herald_core::inbox::Signal;
use herald_core::inbox::tokens;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use validator::Validate;

use super::subscribers::external_id;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, ValidJson};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(mint_token, revoke_tokens))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenIn {
    /// Seconds the token is valid: 60 up to `auth.subscriber_token_max_lifetime_secs`
    /// (a day unless configured; never more than 30 days); default 3,600 or that
    /// maximum if it is shorter.
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
    Path(raw): Path<String>,
    ValidJson(input): ValidJson<TokenIn>,
) -> Result<(StatusCode, Json<TokenOut>), ApiError> {
    let external_id = external_id(&raw)?;
    let subscriber = herald_core::subscribers::store::find(&state.db, external_id).await?;
    let keys = state.token_keys().await?;
    let ttl = match input.ttl_secs {
        // Within 30 days by validation.
        Some(secs) => Duration::seconds(i64::try_from(secs).unwrap_or(i64::from(u32::MAX))),
        None => Duration::hours(1).min(keys.max_lifetime()),
    };
    let issued_at = tokens::issue_time(Utc::now(), subscriber.tokens_revoked_before);
    let (token, expires_at) = keys.mint(external_id, ttl, issued_at)?;
    Ok((StatusCode::CREATED, Json(TokenOut { token, expires_at })))
}

/// Revokes every token of the subscriber issued until now (a lost device, a log-out
/// everywhere): they are refused from now on, on every node, and the subscriber's open
/// streams end (WebSocket close code 4001). Tokens minted afterwards work. Audited.
#[utoipa::path(delete, path = "/v1/subscribers/{external_id}/tokens", tag = "subscribers",
    security(("api_key" = ["subscribers:write"]), ("session" = ["subscribers:write"])),
    params(("external_id" = String, Path, description = "The subscriber's external id")),
    responses((status = 204, description = "Revoked"), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn revoke_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let subscriber_id =
        tokens::revoke_all(&state.db, &caller.audit(), external_id(&raw)?, Utc::now()).await?;
    state.bus.publish(subscriber_id, Signal::Revoked);
    Ok(StatusCode::NO_CONTENT)
}
