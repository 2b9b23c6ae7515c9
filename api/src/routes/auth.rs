//! Operator login and logout with a server-side cookie session.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use axum_extra::extract::CookieJar;
use herald_core::ErrorCode;
use herald_core::audit::{Actor, AuditContext, Change};
use herald_core::{audit, operators, sessions};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use validator::Validate;

use super::operators::OperatorOut;
use crate::auth::throttle::{LockedOut, Verdict};
use crate::auth::{Caller, Principal};
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

/// The client's address: the configured proxy header's last entry, else the peer.
fn client_address(
    state: &AppState,
    connection: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    let forwarded = state
        .settings
        .client_address_header
        .as_ref()
        .and_then(|name| {
            headers
                .get_all(name)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(','))
                // The entry the proxy appended; earlier ones are the client's to forge.
                .next_back()
                .and_then(|entry| entry.trim().parse::<IpAddr>().ok())
        });
    forwarded.or_else(|| connection.map(|Extension(ConnectInfo(peer))| peer.ip()))
}

fn too_many_attempts(wait: Duration) -> ApiError {
    let seconds = wait.as_secs().max(1);
    ApiError::new(
        ErrorCode::TooManyAttempts,
        format!("too many failed logins; try again in {seconds} s"),
    )
    .with_retry_after(seconds)
}

/// Each lock-out a failure started goes to the audit log.
async fn record_lockouts(
    state: &AppState,
    request_id: &Option<String>,
    username: &str,
    address: Option<IpAddr>,
    started: &[LockedOut],
) -> Result<(), ApiError> {
    for lockout in started {
        audit::record(
            &state.db,
            &AuditContext {
                actor: Actor::System,
                request_id: request_id.clone(),
            },
            Change {
                action: "auth.lockout",
                target_kind: "login",
                target_id: Some(lockout.key.clone()),
                before: None,
                after: Some(serde_json::json!({
                    "username": username,
                    "address": address.map(|a| a.to_string()),
                    "failures": lockout.failures,
                    "locked_for_secs": lockout.for_secs,
                })),
            },
        )
        .await?;
    }
    Ok(())
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
        (status = 429, body = ErrorBody, description = "`too_many_attempts`: the account or address is locked out for the `Retry-After` seconds"),
        (status = 503, body = ErrorBody, description = "`unavailable`: too many logins are being checked at once"),
    ))]
async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    RequestId(request_id): RequestId,
    connection: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    ValidJson(input): ValidJson<LoginIn>,
) -> Result<(CookieJar, Json<SessionOut>), ApiError> {
    let address = client_address(&state, connection, &headers);
    let now = Instant::now();
    if let Verdict::Locked(wait) = state.login_throttle.check(&input.username, address, now) {
        return Err(too_many_attempts(wait));
    }
    let operator = match operators::authenticate(
        &state.db,
        &state.hashing_slots,
        &input.username,
        &input.password,
    )
    .await
    {
        Ok(operator) => operator,
        Err(error @ herald_core::Error::InvalidCredentials) => {
            tracing::warn!(username = %input.username, ?address, "login refused");
            let started = state.login_throttle.failed(&input.username, address, now);
            record_lockouts(&state, &request_id, &input.username, address, &started).await?;
            return Err(error.into());
        }
        Err(other) => return Err(other.into()),
    };
    state.login_throttle.succeeded(&input.username);
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
    let max_age = i64::try_from(state.settings.session_ttl.as_secs()).unwrap_or(i64::MAX);
    let policy = state.settings.cookies;
    let jar = jar
        .add(policy.session(opened.token, max_age))
        .add(policy.csrf(opened.csrf_token.clone(), max_age));
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
    let jar = state
        .settings
        .cookies
        .cleared()
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
