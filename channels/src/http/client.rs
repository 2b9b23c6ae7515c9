//! The pooled reqwest client every HTTP plugin uses, built from one settings block.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::BuildError;
use crate::http::ssrf::GuardedResolver;

/// Connection and timeout settings shared by the HTTP plugins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HttpSettings {
    /// Time allowed to open a TCP (and TLS) connection.
    pub connect_timeout_ms: u64,
    /// Time allowed for the whole request, response body included.
    pub request_timeout_ms: u64,
    /// Idle keep-alive connections kept per host. Keep it above the sends a worker has
    /// in flight to one host (`delivery.concurrency` times the pages and batches sent at
    /// once), or every burst closes connections and opens them again.
    pub pool_max_idle_per_host: usize,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout_secs: u64,
    /// An extra trusted root certificate (PEM), for providers reached through a
    /// gateway or proxy with a private CA. The system's roots stay trusted.
    pub extra_root_certificate_pem: Option<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 5_000,
            request_timeout_ms: 15_000,
            pool_max_idle_per_host: 256,
            pool_idle_timeout_secs: 90,
            extra_root_certificate_pem: None,
        }
    }
}

const USER_AGENT: &str = concat!("herald/", env!("CARGO_PKG_VERSION"));

/// Builds a pooled client. With a resolver (webhooks to untrusted URLs) redirects
/// and proxies are off, so the only addresses ever connected to are the ones the
/// resolver checked.
pub(crate) fn build_client(
    settings: &HttpSettings,
    guarded_resolver: Option<Arc<GuardedResolver>>,
) -> Result<reqwest::Client, BuildError> {
    if settings.request_timeout_ms == 0 || settings.connect_timeout_ms == 0 {
        return Err(BuildError::invalid(
            "http.request_timeout_ms",
            "timeouts must be greater than zero",
        ));
    }
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
        .timeout(Duration::from_millis(settings.request_timeout_ms))
        .pool_max_idle_per_host(settings.pool_max_idle_per_host)
        .pool_idle_timeout(Duration::from_secs(settings.pool_idle_timeout_secs))
        // A redirect would be a second, unchecked destination; providers never need one.
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = &settings.extra_root_certificate_pem {
        let certificate = reqwest::Certificate::from_pem(pem.as_bytes())
            .map_err(|error| BuildError::credential("http.extra_root_certificate_pem", error))?;
        builder = builder.tls_certs_merge([certificate]);
    }
    if let Some(resolver) = guarded_resolver {
        // A proxy would connect on our behalf to an address the guard never saw.
        builder = builder.no_proxy().dns_resolver(resolver);
    }
    builder.build().map_err(BuildError::HttpClient)
}
