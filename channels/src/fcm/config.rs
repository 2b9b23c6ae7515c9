//! Settings for an FCM channel.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::BuildError;
use crate::http::HttpSettings;

/// An FCM project and its credentials.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FcmConfig {
    /// The service-account key file (JSON) downloaded from the Firebase console.
    /// Write-only: never serialised.
    #[serde(
        skip_serializing_if = "crate::config::never_shown",
        serialize_with = "crate::config::unshown"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = String, write_only))]
    pub service_account_json: SecretString,
    /// Overrides the key file's `project_id`.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Where `messages:send` lives; changed only by tests.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Overrides the key file's `token_uri`; changed only by tests.
    #[serde(default)]
    pub token_uri: Option<String>,
    #[serde(default)]
    pub http: HttpSettings,
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: usize,
}

fn default_base_url() -> String {
    "https://fcm.googleapis.com".to_owned()
}

fn default_max_concurrency() -> usize {
    crate::DEFAULT_BATCH_CONCURRENCY
}

/// The fields of a Google service-account key file that the token exchange needs.
#[derive(Clone, Deserialize)]
pub struct ServiceAccountKey {
    pub project_id: String,
    pub private_key_id: String,
    pub private_key: SecretString,
    pub client_email: String,
    #[serde(default = "default_token_uri")]
    pub token_uri: String,
}

fn default_token_uri() -> String {
    "https://oauth2.googleapis.com/token".to_owned()
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

impl FcmConfig {
    /// Reads the key file and applies this config's overrides to it.
    pub fn service_account(&self) -> Result<ServiceAccountKey, BuildError> {
        let mut key: ServiceAccountKey =
            serde_json::from_str(self.service_account_json.expose_secret())
                .map_err(|error| BuildError::credential("service_account_json", error))?;
        if let Some(project_id) = &self.project_id {
            key.project_id.clone_from(project_id);
        }
        if let Some(token_uri) = &self.token_uri {
            key.token_uri.clone_from(token_uri);
        }
        Ok(key)
    }
}
