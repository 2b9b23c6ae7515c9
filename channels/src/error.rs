//! Errors raised while turning a configuration into a running plugin.
//!
//! Sending never returns an error: every send ends in a [`crate::DeliveryOutcome`].

/// A channel configuration that cannot become a running plugin.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A setting is missing or malformed; `field` names it as it appears in the config.
    #[error("invalid channel setting `{field}`: {reason}")]
    InvalidSetting { field: &'static str, reason: String },

    /// A key or credential could not be parsed (PEM, service-account JSON, ...).
    #[error("invalid credential `{field}`")]
    InvalidCredential {
        field: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The HTTP client could not be built (TLS roots, resolver, ...).
    #[error("cannot build the HTTP client")]
    HttpClient(#[source] reqwest::Error),

    /// The SMTP transport could not be built (TLS parameters, relay name, ...).
    #[error("cannot build the SMTP transport")]
    Smtp(#[source] lettre::transport::smtp::Error),
}

impl BuildError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidSetting {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn credential(
        field: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::InvalidCredential {
            field,
            source: Box::new(source),
        }
    }
}
