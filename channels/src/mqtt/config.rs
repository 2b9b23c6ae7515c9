//! Settings for an MQTT channel.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// A broker and how to publish to it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MqttConfig {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// Defaults to `herald-<pid>-<random>`: two publishers with one id would
    /// keep disconnecting each other.
    #[serde(default)]
    pub client_id: Option<String>,
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
    /// TLS with the system's root certificates (usually port 8883).
    #[serde(default)]
    pub tls: bool,
    #[serde(default = "default_keep_alive_secs")]
    pub keep_alive_secs: u64,
    /// Publishes awaiting their PUBACK at most; further sends wait for a slot.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: u16,
    /// How long a send waits for its PUBACK before reporting a retryable failure.
    #[serde(default = "default_ack_timeout_ms")]
    pub ack_timeout_ms: u64,
    #[serde(default)]
    pub retain: bool,
}

fn default_port() -> u16 {
    1883
}

fn default_keep_alive_secs() -> u64 {
    30
}

fn default_max_in_flight() -> u16 {
    100
}

fn default_ack_timeout_ms() -> u64 {
    10_000
}
