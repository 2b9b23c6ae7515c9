//! The authenticated caller of a request, put in its extensions by `authorize`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use herald_core::ErrorCode;
use herald_core::access::{Role, Scope};
use herald_core::audit::{Actor, AuditContext};

use super::access::Scheme;
use crate::error::ApiError;

#[derive(Debug, Clone)]
pub enum Principal {
    Operator {
        id: i64,
        username: String,
        role: Role,
        /// The session row's id (the token's digest), for logout.
        session_id: String,
        csrf_token: String,
    },
    ApiKey {
        id: i64,
        name: String,
        scopes: Vec<Scope>,
    },
}

impl Principal {
    pub fn scheme(&self) -> Scheme {
        match self {
            Principal::Operator { .. } => Scheme::Session,
            Principal::ApiKey { .. } => Scheme::ApiKey,
        }
    }

    pub fn holds(&self, scope: Scope) -> bool {
        match self {
            Principal::Operator { role, .. } => role.grants(scope),
            Principal::ApiKey { scopes, .. } => scopes.contains(&scope),
        }
    }

    pub fn actor(&self) -> Actor {
        match self {
            Principal::Operator { id, username, .. } => Actor::Operator {
                id: *id,
                username: username.clone(),
            },
            Principal::ApiKey { id, name, .. } => Actor::ApiKey {
                id: *id,
                name: name.clone(),
            },
        }
    }
}

/// The caller and the request id, as handlers need them.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub request_id: Option<String>,
}

impl Caller {
    /// Who sends a message, as stored with it: only they may read it back.
    pub fn sender(&self) -> String {
        match &self.principal {
            Principal::Operator { id, .. } => format!("operator:{id}"),
            Principal::ApiKey { id, .. } => format!("api_key:{id}"),
        }
    }

    /// What audited domain functions need to know about this request.
    pub fn audit(&self) -> AuditContext {
        AuditContext {
            actor: self.principal.actor(),
            request_id: self.request_id.clone(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::unauthenticated(ErrorCode::Unauthenticated, "log in or send an API key")
        })
    }
}

/// The subscriber whose token authenticated the request (inbox and stream routes).
#[derive(Debug, Clone)]
pub struct SubscriberCaller {
    pub id: i64,
    pub external_id: String,
    /// When the token expires: an open stream ends then.
    pub token_expires_at: chrono::DateTime<chrono::Utc>,
}

impl<S: Send + Sync> FromRequestParts<S> for SubscriberCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<SubscriberCaller>()
            .cloned()
            .ok_or_else(|| {
                ApiError::unauthenticated(ErrorCode::Unauthenticated, "send a subscriber token")
            })
    }
}
