//! The access rule of every route, read from the OpenAPI document.

use std::collections::HashMap;

use axum::http::Method;
use herald_core::access::Scope;

/// Security scheme names as they appear in the OpenAPI document.
pub const SESSION_SCHEME: &str = "session";
pub const API_KEY_SCHEME: &str = "api_key";
pub const SUBSCRIBER_TOKEN_SCHEME: &str = "subscriber_token";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Session,
    ApiKey,
    /// A subscriber's own token: the inbox and its streams.
    SubscriberToken,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessRule {
    /// Anyone may call it (health checks, login).
    Public,
    /// One of these alternatives must hold: the caller authenticated with the scheme
    /// and holds every listed scope (none listed: being authenticated is enough).
    Require(Vec<(Scheme, Vec<Scope>)>),
}

impl AccessRule {
    /// The scope the rule asks of `scheme`, if `scheme` is accepted at all.
    pub fn scopes_for(&self, scheme: Scheme) -> Option<&[Scope]> {
        match self {
            AccessRule::Public => Some(&[]),
            AccessRule::Require(alternatives) => alternatives
                .iter()
                .find(|(s, _)| *s == scheme)
                .map(|(_, scopes)| scopes.as_slice()),
        }
    }
}

#[derive(Debug, Default)]
pub struct AccessTable {
    rules: HashMap<(Method, String), AccessRule>,
}

#[derive(Debug, thiserror::Error)]
pub enum AccessTableError {
    #[error("{method} {path} declares no security; add `security(...)` to its #[utoipa::path]")]
    Undeclared { method: String, path: String },
    #[error("{method} {path} names unknown scheme `{scheme}`")]
    UnknownScheme {
        method: String,
        path: String,
        scheme: String,
    },
    #[error("{method} {path} names unknown scope `{scope}`")]
    UnknownScope {
        method: String,
        path: String,
        scope: String,
    },
}

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

impl AccessTable {
    /// Reads every operation's `security` from a generated document.
    pub fn from_openapi(openapi: &utoipa::openapi::OpenApi) -> Result<Self, AccessTableError> {
        let document = serde_json::to_value(openapi).unwrap_or_default();
        let mut rules = HashMap::new();
        let Some(paths) = document.get("paths").and_then(|p| p.as_object()) else {
            return Ok(Self { rules });
        };
        for (path, item) in paths {
            for method in METHODS {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let rule = parse_rule(method, path, operation.get("security"))?;
                let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                    .unwrap_or(Method::GET);
                rules.insert((method, path.clone()), rule);
            }
        }
        Ok(Self { rules })
    }

    pub fn rule(&self, method: &Method, path: &str) -> Option<&AccessRule> {
        self.rules.get(&(method.clone(), path.to_owned()))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Method, &str, &AccessRule)> {
        self.rules.iter().map(|((m, p), r)| (m, p.as_str(), r))
    }
}

fn parse_rule(
    method: &str,
    path: &str,
    security: Option<&serde_json::Value>,
) -> Result<AccessRule, AccessTableError> {
    let undeclared = || AccessTableError::Undeclared {
        method: method.to_uppercase(),
        path: path.to_owned(),
    };
    let requirements = security.and_then(|s| s.as_array()).ok_or_else(undeclared)?;
    if requirements.is_empty() {
        return Err(undeclared());
    }
    let mut alternatives = Vec::new();
    for requirement in requirements {
        let Some(schemes) = requirement.as_object() else {
            continue;
        };
        if schemes.is_empty() {
            // `security(())`: an empty requirement means no authentication at all.
            return Ok(AccessRule::Public);
        }
        for (name, scopes) in schemes {
            let scheme = match name.as_str() {
                SESSION_SCHEME => Scheme::Session,
                API_KEY_SCHEME => Scheme::ApiKey,
                SUBSCRIBER_TOKEN_SCHEME => Scheme::SubscriberToken,
                other => {
                    return Err(AccessTableError::UnknownScheme {
                        method: method.to_uppercase(),
                        path: path.to_owned(),
                        scheme: other.to_owned(),
                    });
                }
            };
            let mut parsed = Vec::new();
            for scope in scopes.as_array().into_iter().flatten() {
                let text = scope.as_str().unwrap_or_default();
                parsed.push(
                    Scope::parse(text).ok_or_else(|| AccessTableError::UnknownScope {
                        method: method.to_uppercase(),
                        path: path.to_owned(),
                        scope: text.to_owned(),
                    })?,
                );
            }
            alternatives.push((scheme, parsed));
        }
    }
    Ok(AccessRule::Require(alternatives))
}
