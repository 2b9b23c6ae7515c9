//! What every handler may need, cloned cheaply per request.

use std::sync::Arc;
use std::time::Duration;

use herald_core::config::Config;
use sea_orm::DatabaseConnection;

use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
}

/// The parts of the configuration the HTTP layer reads.
#[derive(Debug, Clone)]
pub struct Settings {
    pub session_ttl: Duration,
    pub secure_cookies: bool,
    pub body_limit_bytes: usize,
    pub import_body_limit_bytes: usize,
    pub request_timeout: Duration,
}

impl Settings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            session_ttl: Duration::from_secs(config.auth.session_ttl_secs),
            secure_cookies: config.auth.secure_cookies,
            body_limit_bytes: config.http.body_limit_bytes,
            import_body_limit_bytes: config.http.import_body_limit_bytes,
            request_timeout: Duration::from_secs(config.http.request_timeout_secs),
        }
    }
}

impl AppState {
    pub fn new(db: DatabaseConnection, config: &Config) -> Self {
        Self {
            db,
            settings: Arc::new(Settings::from_config(config)),
            metrics: Arc::new(Metrics::new()),
        }
    }
}
