//! Settings for a generic webhook channel.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::http::HttpSettings;
use crate::http::ssrf::AllowEntry;

/// A webhook channel: one signing secret, the SSRF allow-list and HTTP settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookConfig {
    /// The signing secret, `whsec_` followed by base64. Write-only: never serialised.
    #[serde(
        skip_serializing_if = "crate::config::never_shown",
        serialize_with = "crate::config::unshown"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = String, write_only))]
    pub secret: SecretString,
    /// Networks (CIDR or bare IP) and exact `host:port` pairs that may be reached
    /// even though they are loopback, private or link-local.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub allow_list: Vec<AllowEntry>,
    #[serde(default)]
    pub http: HttpSettings,
    /// Concurrent requests in a batch send.
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: usize,
}

fn default_max_concurrency() -> usize {
    crate::DEFAULT_BATCH_CONCURRENCY
}
