//! Settings for an APNs channel.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::http::HttpSettings;

/// The `apns-push-type` header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ApnsPushType {
    #[default]
    Alert,
    Background,
}

impl ApnsPushType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alert => "alert",
            Self::Background => "background",
        }
    }
}

/// An APNs signing key and the app it sends for.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApnsConfig {
    /// The `.p8` signing key (PEM, PKCS#8 P-256). Write-only: never serialised.
    #[serde(
        skip_serializing_if = "crate::config::never_shown",
        serialize_with = "crate::config::unshown"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = String, write_only))]
    pub signing_key_pem: SecretString,
    /// The key's 10-character id from the developer account.
    pub key_id: String,
    pub team_id: String,
    /// The app's bundle id, sent as `apns-topic`.
    pub topic: String,
    #[serde(default)]
    pub push_type: ApnsPushType,
    /// `https://api.push.apple.com` (production) or
    /// `https://api.sandbox.push.apple.com`; tests point it at a local server.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// APNs needs HTTP/2; against real servers it is negotiated through TLS ALPN.
    #[serde(default)]
    pub http: HttpSettings,
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: usize,
}

fn default_base_url() -> String {
    "https://api.push.apple.com".to_owned()
}

fn default_max_concurrency() -> usize {
    crate::DEFAULT_BATCH_CONCURRENCY
}
