//! Settings for a JPush channel.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::http::HttpSettings;

/// A JPush application and its credentials.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JpushConfig {
    pub app_key: String,
    /// Write-only: never serialised.
    #[serde(
        skip_serializing_if = "crate::config::never_shown",
        serialize_with = "crate::config::unshown"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = String, write_only))]
    pub master_secret: SecretString,
    /// `https://api.jpush.cn`; tests point it at a local server.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Deliver iOS notifications through the production APNs environment.
    #[serde(default = "default_apns_production")]
    pub apns_production: bool,
    #[serde(default)]
    pub http: HttpSettings,
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: usize,
}

fn default_base_url() -> String {
    "https://api.jpush.cn".to_owned()
}

fn default_apns_production() -> bool {
    true
}

fn default_max_concurrency() -> usize {
    crate::DEFAULT_BATCH_CONCURRENCY
}
