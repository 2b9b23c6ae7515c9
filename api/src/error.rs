//! The one error type of the HTTP layer: a stable machine code, a status and one JSON
//! shape, `{"error": {"code", "message", "field"}}`. Domain errors are mapped here once.
//!
//! Codes are part of the API contract and are one enum, [`ErrorCode`], which also fixes
//! each code's status; the OpenAPI document lists per operation which codes it answers.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_core::ErrorCode;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    /// Seconds after which a retry may succeed, sent as `Retry-After`.
    pub retry_after: Option<u64>,
    /// The cause of a server fault, logged and never sent.
    cause: Option<String>,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code, e.g. `validation_failed`.
    pub code: ErrorCode,
    /// A human-readable explanation.
    pub message: String,
    /// The input field at fault, as a dotted path, when there is one.
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(code.status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message: message.into(),
            field: None,
            retry_after: None,
            cause: None,
        }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationFailed, message).with_field(field)
    }

    pub fn unauthenticated(code: ErrorCode, message: impl Into<String>) -> Self {
        debug_assert_eq!(code.status(), 401);
        Self::new(code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    /// A server fault: the client sees a generic message, the log sees `cause`.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut error = Self::new(
            ErrorCode::Internal,
            "an internal error occurred; it has been logged",
        );
        error.cause = Some(cause.to_string());
        error
    }
}

impl From<herald_core::Error> for ApiError {
    fn from(error: herald_core::Error) -> Self {
        use herald_core::Error as E;
        match error {
            E::NotFound { entity } => Self::not_found(entity),
            E::Invalid { field, message } => Self::validation(field, message),
            E::Banned { field, message, .. } => {
                Self::new(ErrorCode::BannedWords, message).with_field(field)
            }
            E::Conflict { code, message } | E::Forbidden { code, message } => {
                Self::new(code, message)
            }
            E::InvalidCredentials => Self::unauthenticated(
                ErrorCode::InvalidCredentials,
                "the username or password is not correct",
            ),
            E::InvalidToken(reason) => Self::unauthenticated(ErrorCode::InvalidToken, reason),
            E::Busy(message) => Self::new(ErrorCode::Unavailable, message),
            E::Upload(message) => Self::new(
                ErrorCode::BadRequest,
                format!("reading the upload failed: {message}"),
            ),
            other @ (E::PasswordHash(_)
            | E::Internal(_)
            | E::Database(_)
            | E::Bus(_)
            | E::Csv(_)) => Self::internal(error_chain(&other)),
        }
    }
}

/// The error and its sources on one line, for the log.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(
                code = self.code.as_str(),
                cause = self.cause.as_deref().unwrap_or(""),
                "request failed"
            );
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                field: self.field,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        // For the request metrics, which count answers by code.
        response.extensions_mut().insert(self.code);
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}
