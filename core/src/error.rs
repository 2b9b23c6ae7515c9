//! The one error type of the domain layer. `api` maps it to HTTP in one place.

use sea_orm::{DbErr, SqlErr};

use crate::error_code::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A named thing does not exist (or the caller may not know that it does).
    #[error("{entity} not found")]
    NotFound { entity: &'static str },

    /// The request is well formed but a field's value is not acceptable.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },

    /// Content holds words a keyword rule bans.
    #[error("{field}: {message}")]
    Banned {
        field: String,
        message: String,
        words: Vec<String>,
    },

    /// The request clashes with the current state (a duplicate name, the last admin…).
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },

    /// The caller may use the route but not do this particular thing (four eyes).
    #[error("{message}")]
    Forbidden { code: ErrorCode, message: String },

    /// Username/password or key did not match.
    #[error("invalid credentials")]
    InvalidCredentials,

    /// A subscriber token was refused; the reason is safe to tell its holder (the
    /// signature is checked before anything else is said).
    #[error("{0}")]
    InvalidToken(&'static str),

    /// Reading an uploaded body failed part-way (the client went away, or it was too big).
    #[error("reading the upload failed: {0}")]
    Upload(String),

    #[error("password hashing failed: {0}")]
    PasswordHash(String),

    /// The server is at a bound it keeps on purpose (concurrent password hashes): a
    /// moment later may succeed.
    #[error("{0}")]
    Busy(&'static str),

    /// A background task the request waited on stopped without answering.
    #[error("{0}")]
    Internal(&'static str),

    #[error("database error")]
    Database(#[source] DbErr),

    /// The inbox bus between processes (LISTEN/NOTIFY or NATS) could not be joined.
    #[error("the inbox bus failed: {0}")]
    Bus(String),

    #[error("writing CSV failed")]
    Csv(#[from] csv_async::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A referenced record that does not exist is the input's fault (a 422 naming
    /// `field`); any other error stays what it is.
    pub fn missing_as_invalid(self, field: &str, message: &str) -> Self {
        match self {
            Error::NotFound { .. } => Error::invalid(field, message),
            other => other,
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A 409 `in_use`: `what` cannot be deleted while `users` (named, e.g. `campaign 7
    /// (Spring sale)`) depend on it. A few are named; the count says how many there are.
    pub fn in_use(what: &str, users: &[String], total: u64) -> Self {
        let named = users.join(", ");
        let more = total.saturating_sub(users.len() as u64);
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        Self::conflict(
            ErrorCode::InUse,
            format!("{what} is in use by {named}{tail}"),
        )
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
}

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        // A unique-constraint violation that slipped past a check (a race between two
        // requests) is a conflict for the caller, not a server fault.
        if let Some(SqlErr::UniqueConstraintViolation(detail)) = err.sql_err() {
            return Self::conflict(ErrorCode::AlreadyExists, unique_violation_message(&detail));
        }
        Self::Database(err)
    }
}

fn unique_violation_message(detail: &str) -> String {
    let _ = detail; // the driver's text names internal constraints; keep them out of responses
    "a record with the same unique value already exists".to_owned()
}

impl From<validator::ValidationErrors> for Error {
    fn from(errors: validator::ValidationErrors) -> Self {
        let (field, message) = first_validation_error(&errors);
        Self::Invalid { field, message }
    }
}

/// The first failing field of a validator report, with a dotted path for nested fields.
pub fn first_validation_error(errors: &validator::ValidationErrors) -> (String, String) {
    use validator::ValidationErrorsKind;
    let mut fields: Vec<_> = errors.errors().iter().collect();
    fields.sort_by_key(|(name, _)| name.to_string());
    for (name, kind) in fields {
        match kind {
            ValidationErrorsKind::Field(list) => {
                if let Some(first) = list.first() {
                    let message = first
                        .message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| describe_code(&first.code));
                    return (name.to_string(), message);
                }
            }
            ValidationErrorsKind::Struct(inner) => {
                let (field, message) = first_validation_error(inner);
                return (format!("{name}.{field}"), message);
            }
            ValidationErrorsKind::List(items) => {
                if let Some((index, inner)) = items.iter().next() {
                    let (field, message) = first_validation_error(inner);
                    return (format!("{name}[{index}].{field}"), message);
                }
            }
        }
    }
    ("body".to_owned(), "invalid input".to_owned())
}

fn describe_code(code: &str) -> String {
    match code {
        "length" => "has an invalid length".to_owned(),
        "email" => "is not a valid email address".to_owned(),
        "url" => "is not a valid URL".to_owned(),
        "range" => "is out of range".to_owned(),
        other => format!("is invalid ({other})"),
    }
}

/// The dotted path of the field a deserialisation error is about. A missing field is
/// named only in serde's message, relative to the path where it stopped (an unknown
/// field is already the last step of the path).
pub fn serde_field_path(path: &str, message: &str, fallback: &str) -> String {
    let named = message
        .starts_with("missing field")
        .then(|| message.split('`').nth(1))
        .flatten();
    match (path, named) {
        (".", Some(name)) => name.to_owned(),
        (".", None) => fallback.to_owned(),
        (path, Some(name)) => format!("{path}.{name}"),
        (path, None) => path.to_owned(),
    }
}
