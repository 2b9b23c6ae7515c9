//! Operator login and logout with a server-side cookie session.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum_extra::extract::CookieJar;
use herald_core::audit::{Actor, AuditContext, Change};
use herald_core::{audit, operators, sessions};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use validator::Validate;

use super::operators::OperatorOut;
use crate::auth::{Caller, Principal, cookies};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{RequestId, ValidJson};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct LoginIn {
    #[validate(length(min = 1, max = 64))]
    username: String,
    #[validate(length(min = 1, max = 1024))]
    password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOut {
    operator: OperatorOut,
    /// Echo this in the `X-CSRF-Token` header of every state-changing request. It is
    /// also set as the readable `herald_csrf` cookie.
    csrf_token: String,
    expires_at: chrono::DateTime<chrono::Utc>,
}

/// Logs an operator in: sets the `herald_session` cookie (HttpOnly, SameSite=Strict).
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", security(()),
    request_body = LoginIn,
    responses(
        (status = 200, body = SessionOut),
        (status = 401, body = ErrorBody, description = "invalid_credentials"),
        (status = 422, body = ErrorBody),
    ))]
async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    RequestId(request_id): RequestId,
    ValidJson(input): ValidJson<LoginIn>,
) -> Result<(CookieJar, Json<SessionOut>), ApiError> {
    let operator = match operators::authenticate(&state.db, &input.username, &input.password).await
    {
        Ok(operator) => operator,
        Err(error) => {
            tracing::warn!(username = %input.username, "login refused");
            return Err(error.into());
        }
    };
    let opened = sessions::open(&state.db, operator.id, state.settings.session_ttl).await?;
    operators::record_login(&state.db, operator.id).await?;
    audit::record(
        &state.db,
        &AuditContext {
            actor: Actor::Operator {
                id: operator.id,
                username: operator.username.clone(),
            },
            request_id,
        },
        Change {
            action: "auth.login",
            target_kind: "operator",
            target_id: Some(operator.id.to_string()),
            before: None,
            after: None,
        },
    )
    .await?;
    let max_age = state.settings.session_ttl.as_secs() as i64;
    let secure = state.settings.secure_cookies;
    let jar = jar
        .add(cookies::session(opened.token, max_age, secure))
        .add(cookies::csrf(opened.csrf_token.clone(), max_age, secure));
    Ok((
        jar,
        Json(SessionOut {
            operator: operator.into(),
            csrf_token: opened.csrf_token,
            expires_at: opened.expires_at,
        }),
    ))
}

/// Ends the current session.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    security(("session" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    jar: CookieJar,
) -> Result<(StatusCode, CookieJar), ApiError> {
    if let Principal::Operator { session_id, .. } = &caller.principal {
        sessions::close(&state.db, session_id).await?;
    }
    let jar = cookies::cleared()
        .into_iter()
        .fold(jar, |jar, cookie| jar.add(cookie));
    Ok((StatusCode::NO_CONTENT, jar))
}

/// The logged-in operator.
#[utoipa::path(get, path = "/v1/auth/me", tag = "auth",
    security(("session" = [])),
    responses((status = 200, body = OperatorOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<OperatorOut>, ApiError> {
    let Principal::Operator { id, .. } = caller.principal else {
        return Err(ApiError::forbidden("this route is for operators"));
    };
    Ok(Json(operators::get(&state.db, id).await?.into()))
}
