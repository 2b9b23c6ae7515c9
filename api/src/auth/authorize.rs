//! The middleware that authenticates the caller and enforces the route's access rule.

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, Method, Uri};
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use herald_core::ErrorCode;
use herald_core::inbox::tokens;
use herald_core::{api_keys, operators, secrets, sessions};

use super::access::{AccessRule, AccessTable, Scheme};
use super::caller::{Caller, Principal, SubscriberCaller};
use super::cookies::CSRF_HEADER;
use crate::error::ApiError;
use crate::extract::RequestId;
use crate::state::AppState;
use std::sync::Arc;

pub async fn authorize(
    State((state, table)): State<(AppState, Arc<AccessTable>)>,
    matched: Option<MatchedPath>,
    jar: CookieJar,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let path = matched
        .as_ref()
        .map(MatchedPath::as_str)
        .unwrap_or_default();
    // HEAD is GET without the body (axum routes it to the GET handler): same rule.
    let method = if request.method() == Method::HEAD {
        &Method::GET
    } else {
        request.method()
    };
    // Deny by default: a route the table does not know was never declared.
    let rule = table.rule(method, path).ok_or_else(|| {
        ApiError::internal(format!("no access rule for {} {path}", request.method()))
    })?;
    if *rule == AccessRule::Public {
        return Ok(next.run(request).await);
    }
    // A subscriber's routes take their token and nothing else.
    if rule.scopes_for(Scheme::SubscriberToken).is_some() {
        let subscriber = authenticate_subscriber(&state, request.headers(), request.uri()).await?;
        request.extensions_mut().insert(subscriber);
        return Ok(next.run(request).await);
    }
    let principal = authenticate(&state, request.headers(), &jar).await?;
    let Some(scopes) = rule.scopes_for(principal.scheme()) else {
        return Err(ApiError::forbidden(match principal {
            Principal::ApiKey { .. } => "this route is for operators, not API keys",
            Principal::Operator { .. } => "this route is for API keys, not operator sessions",
        }));
    };
    if let Some(missing) = scopes.iter().find(|scope| !principal.holds(**scope)) {
        return Err(ApiError::forbidden(format!(
            "this needs the `{missing}` permission"
        )));
    }
    if let Principal::Operator { csrf_token, .. } = &principal {
        check_csrf(request.method(), request.headers(), csrf_token)?;
    }
    let RequestId(request_id) = RequestId::of(request.headers());
    request.extensions_mut().insert(Caller {
        principal,
        request_id,
    });
    Ok(next.run(request).await)
}

async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    jar: &CookieJar,
) -> Result<Principal, ApiError> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let key = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::unauthenticated(
                    ErrorCode::InvalidApiKey,
                    "send the key as `Authorization: Bearer <key>`",
                )
            })?;
        let model = state
            .api_keys
            .authenticate(&state.db, key.trim())
            .await
            .map_err(|e| match e {
                herald_core::Error::InvalidCredentials => ApiError::unauthenticated(
                    ErrorCode::InvalidApiKey,
                    "the API key is unknown, revoked or expired",
                ),
                other => ApiError::from(other),
            })?;
        return Ok(Principal::ApiKey {
            scopes: api_keys::scopes_of(&model),
            id: model.id,
            name: model.name,
        });
    }
    if let Some(cookie) = jar.get(state.settings.cookies.session_name()) {
        let (session, operator) = sessions::find_active(
            &state.db,
            cookie.value(),
            state.settings.session_idle_timeout,
        )
        .await?
        .ok_or_else(|| {
            ApiError::unauthenticated(
                ErrorCode::SessionExpired,
                "the session has expired; log in again",
            )
        })?;
        return Ok(Principal::Operator {
            role: operators::role_of(&operator),
            id: operator.id,
            username: operator.username,
            session_id: session.id,
            csrf_token: session.csrf_token,
        });
    }
    Err(ApiError::unauthenticated(
        ErrorCode::Unauthenticated,
        "log in or send an API key",
    ))
}

/// The subscriber a token names, from `Authorization: Bearer` or, for EventSource
/// (which cannot set headers), the `token` query parameter.
async fn authenticate_subscriber(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<SubscriberCaller, ApiError> {
    let from_header = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let from_query = || {
        uri.query().and_then(|query| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(key, _)| key == "token")
                .map(|(_, value)| value.into_owned())
        })
    };
    let token = from_header.or_else(from_query).ok_or_else(|| {
        ApiError::unauthenticated(
            ErrorCode::Unauthenticated,
            "send a subscriber token as `Authorization: Bearer <token>` or `?token=`",
        )
    })?;
    let now = chrono::Utc::now();
    let token = state.token_keys().await?.verify(token.trim(), now)?;
    let unknown = || herald_core::Error::InvalidToken("the subscriber token names no subscriber");
    let subscriber = herald_core::subscribers::store::find(&state.db, &token.external_id)
        .await
        .map_err(|e| match e {
            herald_core::Error::NotFound { .. } => unknown(),
            other => other,
        })?;
    if tokens::is_revoked(token.issued_at, subscriber.tokens_revoked_before) {
        return Err(herald_core::Error::InvalidToken(
            "the subscriber token was revoked; ask for a new one",
        )
        .into());
    }
    Ok(SubscriberCaller {
        id: subscriber.id,
        external_id: token.external_id,
        token_expires_at: token.expires_at,
    })
}

/// A cookie rides along on cross-site requests; a header the attacker's page cannot
/// read or set does not. Safe methods change nothing and need no token.
fn check_csrf(method: &Method, headers: &HeaderMap, expected: &str) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if secrets::constant_time_eq(presented, expected) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::CsrfFailed,
            "missing or wrong X-CSRF-Token header",
        ))
    }
}
