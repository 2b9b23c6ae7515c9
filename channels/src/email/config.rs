//! Settings for an SMTP channel.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SmtpSecurity {
    /// No TLS at all: only for a relay on this host or a test server.
    Plain,
    /// Plain connect, then a mandatory `STARTTLS` upgrade (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

impl SmtpSecurity {
    pub fn default_port(self) -> u16 {
        match self {
            Self::Plain => 25,
            Self::Starttls => 587,
            Self::Tls => 465,
        }
    }
}

/// Connection-pool sizing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SmtpPoolSettings {
    /// Connections kept open at most; also the plugin's batch concurrency.
    pub max_size: u32,
    /// An idle connection is closed after this many seconds.
    pub idle_timeout_secs: u64,
}

impl Default for SmtpPoolSettings {
    fn default() -> Self {
        Self {
            max_size: 8,
            idle_timeout_secs: 60,
        }
    }
}

/// An SMTP relay and how to talk to it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SmtpConfig {
    pub host: String,
    /// Defaults to 25, 587 or 465 according to `security`.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: SmtpSecurity,
    #[serde(default)]
    pub username: Option<String>,
    /// Write-only: never serialised.
    #[serde(
        default,
        skip_serializing_if = "crate::config::never_shown",
        serialize_with = "crate::config::unshown"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, write_only))]
    pub password: Option<SecretString>,
    /// The name sent in EHLO; defaults to this machine's host name.
    #[serde(default)]
    pub hello_name: Option<String>,
    /// Seconds allowed for each SMTP command.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    #[serde(default)]
    pub pool: SmtpPoolSettings,
    /// The right-hand side of generated Message-IDs; defaults to the sender's domain.
    #[serde(default)]
    pub message_id_domain: Option<String>,
    /// An extra trusted root certificate (PEM), for relays behind a private CA.
    #[serde(default)]
    pub extra_root_certificate_pem: Option<String>,
}

fn default_timeout_secs() -> u64 {
    30
}
