//! Every machine-readable error code the API answers, with its HTTP status. The code
//! fixes the status, so the two cannot disagree; the OpenAPI document lists, per
//! operation, which of these it can answer.

use serde::Serialize;
use utoipa::ToSchema;

/// A stable machine-readable error code; clients may switch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    MalformedJson,
    BadRequest,
    Unauthenticated,
    InvalidCredentials,
    InvalidApiKey,
    SessionExpired,
    InvalidToken,
    Forbidden,
    CsrfFailed,
    ReviewerIsEditor,
    ReviewerIsSubmitter,
    NotFound,
    MethodNotAllowed,
    Timeout,
    AlreadyExists,
    NameTaken,
    TemplateNameTaken,
    AudienceNameTaken,
    AudienceNotAList,
    UsernameTaken,
    LastAdmin,
    InvalidTransition,
    ApprovalInvalidated,
    InUse,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    BannedWords,
    TooManyAttempts,
    TooManyStreams,
    Internal,
    Unavailable,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 32] = [
        Self::MalformedJson,
        Self::BadRequest,
        Self::Unauthenticated,
        Self::InvalidCredentials,
        Self::InvalidApiKey,
        Self::SessionExpired,
        Self::InvalidToken,
        Self::Forbidden,
        Self::CsrfFailed,
        Self::ReviewerIsEditor,
        Self::ReviewerIsSubmitter,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Timeout,
        Self::AlreadyExists,
        Self::NameTaken,
        Self::TemplateNameTaken,
        Self::AudienceNameTaken,
        Self::AudienceNotAList,
        Self::UsernameTaken,
        Self::LastAdmin,
        Self::InvalidTransition,
        Self::ApprovalInvalidated,
        Self::InUse,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::ValidationFailed,
        Self::BannedWords,
        Self::TooManyAttempts,
        Self::TooManyStreams,
        Self::Internal,
        Self::Unavailable,
    ];

    /// The HTTP status every answer with this code has.
    pub fn status(self) -> u16 {
        use ErrorCode::*;
        match self {
            MalformedJson | BadRequest => 400,
            Unauthenticated | InvalidCredentials | InvalidApiKey | SessionExpired
            | InvalidToken => 401,
            Forbidden | CsrfFailed | ReviewerIsEditor | ReviewerIsSubmitter => 403,
            NotFound => 404,
            MethodNotAllowed => 405,
            Timeout => 408,
            AlreadyExists | NameTaken | TemplateNameTaken | AudienceNameTaken
            | AudienceNotAList | UsernameTaken | LastAdmin | InvalidTransition
            | ApprovalInvalidated | InUse => 409,
            PayloadTooLarge => 413,
            UnsupportedMediaType => 415,
            ValidationFailed | BannedWords => 422,
            TooManyAttempts | TooManyStreams => 429,
            Internal => 500,
            Unavailable => 503,
        }
    }

    /// The code as it appears in error bodies.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            MalformedJson => "malformed_json",
            BadRequest => "bad_request",
            Unauthenticated => "unauthenticated",
            InvalidCredentials => "invalid_credentials",
            InvalidApiKey => "invalid_api_key",
            SessionExpired => "session_expired",
            InvalidToken => "invalid_token",
            Forbidden => "forbidden",
            CsrfFailed => "csrf_failed",
            ReviewerIsEditor => "reviewer_is_editor",
            ReviewerIsSubmitter => "reviewer_is_submitter",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            Timeout => "timeout",
            AlreadyExists => "already_exists",
            NameTaken => "name_taken",
            TemplateNameTaken => "template_name_taken",
            AudienceNameTaken => "audience_name_taken",
            AudienceNotAList => "audience_not_a_list",
            UsernameTaken => "username_taken",
            LastAdmin => "last_admin",
            InvalidTransition => "invalid_transition",
            ApprovalInvalidated => "approval_invalidated",
            InUse => "in_use",
            PayloadTooLarge => "payload_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            ValidationFailed => "validation_failed",
            BannedWords => "banned_words",
            TooManyAttempts => "too_many_attempts",
            TooManyStreams => "too_many_streams",
            Internal => "internal",
            Unavailable => "unavailable",
        }
    }

    /// What the code means, for the OpenAPI document.
    pub fn meaning(self) -> &'static str {
        use ErrorCode::*;
        match self {
            MalformedJson => "the body is not well-formed JSON of the expected shape",
            BadRequest => "the request cannot be read (an upload cut short, a bad handshake)",
            Unauthenticated => "no credentials were sent",
            InvalidCredentials => "the username or password is not correct",
            InvalidApiKey => "the API key is unknown or revoked",
            SessionExpired => "the session ended (logged out, idle or expired)",
            InvalidToken => "the subscriber token is forged, expired, revoked or not for Herald",
            Forbidden => "the caller's role or key lacks the scope this needs",
            CsrfFailed => "the `x-csrf-token` header does not match the session",
            ReviewerIsEditor => "the reviewer edited this campaign (four eyes)",
            ReviewerIsSubmitter => "the reviewer submitted this campaign (four eyes)",
            NotFound => "nothing has this id (or a path parameter does not parse)",
            MethodNotAllowed => "the route does not take this method",
            Timeout => "the request took longer than http.request_timeout_secs",
            AlreadyExists => "a record with this key exists",
            NameTaken => "the name is taken",
            TemplateNameTaken => "a template has this name",
            AudienceNameTaken => "an audience has this name",
            AudienceNotAList => "the audience is not a list audience",
            UsernameTaken => "an operator has this username",
            LastAdmin => "this would leave no enabled admin",
            InvalidTransition => "the record's state does not allow this now",
            ApprovalInvalidated => "what was approved changed; review it again",
            InUse => "something still uses it (named in the message)",
            PayloadTooLarge => "the body is larger than allowed",
            UnsupportedMediaType => "the body is not of a type this operation reads",
            ValidationFailed => "a value is not acceptable (named in `field`)",
            BannedWords => "the content holds blocked keywords (named in `field`)",
            TooManyAttempts => "too many failed logins; wait for `Retry-After` seconds",
            TooManyStreams => "the subscriber has as many open streams as allowed",
            Internal => "the server failed; it has been logged",
            Unavailable => "the server is at a bound it keeps; try again shortly",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_once_and_spelled_as_serde_spells_it() {
        let mut seen = std::collections::BTreeSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code), "{code} listed twice");
            let serialized = serde_json::to_value(code).unwrap();
            assert_eq!(serialized, code.as_str());
            assert!((400..600).contains(&code.status()));
        }
    }
}
