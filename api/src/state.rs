//! What every handler may need, cloned cheaply per request.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use herald_core::config::MAX_SUBSCRIBER_TOKEN_LIFETIME_SECS;
use herald_core::config::{Config, SecretsConfig};
use herald_core::db_metrics::PoolWaits;
use herald_core::deliveries::Doorbell;
use herald_core::inbox::Bus;
use herald_core::inbox::tokens::{TokenKeys, TokenPolicy};
use herald_core::messages::SendQueue;
use herald_core::sealing::Sealer;
use sea_orm::DatabaseConnection;
use secrecy::SecretString;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::auth::cookies::CookiePolicy;
use crate::auth::throttle::{LoginThrottle, ThrottlePolicy};
use crate::auth::{KEY_CACHE_TTL, KeyCache};
use crate::metrics::Metrics;

/// What every handler reads, behind one pointer: axum clones the state for each
/// request (and each layer), and cloning a dozen handles per request showed in the
/// profile of a busy API (about 4% of its CPU).
#[derive(Clone)]
pub struct AppState(Arc<StateParts>);

impl std::ops::Deref for AppState {
    type Target = StateParts;

    fn deref(&self) -> &StateParts {
        &self.0
    }
}

#[derive(Clone)]
pub struct StateParts {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
    /// Loaded on first use (the generated secret lives in the database).
    token_keys: Arc<OnceCell<TokenKeys>>,
    /// Seals channel secrets; loaded on first use (the key may live in a file).
    sealer: Arc<OnceCell<Sealer>>,
    /// Wakes inbox streams when a subscriber's inbox changes.
    pub bus: Bus,
    /// Wakes the worker of this process when deliveries are queued.
    pub doorbell: Doorbell,
    /// Cancelled when the server shuts down: open streams end.
    pub closing: CancellationToken,
    /// API keys checked a moment ago.
    pub api_keys: Arc<KeyCache>,
    /// Accepts `POST /v1/messages` requests that arrive together in one transaction.
    pub sends: SendQueue,
    /// Failed logins per account and address on this node.
    pub login_throttle: Arc<LoginThrottle>,
    /// Password hashes verified at once (each takes a blocking thread's core).
    pub hashing_slots: Arc<tokio::sync::Semaphore>,
    /// The database pool's waits, probed by one task for the state's lifetime.
    pool_waits: PoolWaits,
}

/// The parts of the configuration the HTTP layer reads.
#[derive(Debug, Clone)]
pub struct Settings {
    pub session_ttl: Duration,
    pub session_idle_timeout: Duration,
    pub cookies: CookiePolicy,
    pub body_limit_bytes: usize,
    pub import_body_limit_bytes: usize,
    pub request_timeout: Duration,
    pub header_read_timeout: Duration,
    pub subscriber_token_secret: SecretString,
    pub subscriber_tokens: TokenPolicy,
    pub max_streams_per_subscriber: usize,
    /// Between a WebSocket stream's pings.
    pub stream_ping: Duration,
    /// How long a write may wait on a client that takes none of it (it stopped reading)
    /// before the connection is ended, and a stream's place freed: two ping intervals.
    pub write_stall: Duration,
    pub inbox_cors_origins: Vec<String>,
    pub secrets: SecretsConfig,
    pub data_dir: PathBuf,
    /// The bearer token `/metrics` on the API port requires; empty: not served there.
    pub metrics_token: SecretString,
    /// The SSRF policy for what channel instances' settings name.
    pub channel_destinations: herald_channels::http::ssrf::SsrfGuard,
    /// The proxy header that carries the client's address, if configured.
    pub client_address_header: Option<axum::http::HeaderName>,
}

impl Settings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            session_ttl: Duration::from_secs(config.auth.session_ttl_secs),
            session_idle_timeout: Duration::from_secs(config.auth.session_idle_timeout_secs),
            cookies: CookiePolicy {
                secure: config.auth.secure_cookies || config.public_url().starts_with("https://"),
            },
            body_limit_bytes: config.http.body_limit_bytes,
            import_body_limit_bytes: config.http.import_body_limit_bytes,
            request_timeout: Duration::from_secs(config.http.request_timeout_secs),
            header_read_timeout: Duration::from_secs(config.http.header_read_timeout_secs),
            subscriber_token_secret: config.auth.subscriber_token_secret.clone(),
            subscriber_tokens: TokenPolicy {
                audience: config.auth.subscriber_token_audience.clone(),
                // Validated to at most 30 days.
                max_lifetime: chrono::Duration::seconds(
                    i64::try_from(
                        config
                            .auth
                            .subscriber_token_max_lifetime_secs
                            .min(MAX_SUBSCRIBER_TOKEN_LIFETIME_SECS),
                    )
                    .unwrap_or_default(),
                ),
            },
            max_streams_per_subscriber: config.http.max_streams_per_subscriber,
            stream_ping: Duration::from_secs(config.http.stream_ping_secs),
            write_stall: Duration::from_secs(config.http.stream_ping_secs).saturating_mul(2),
            inbox_cors_origins: config.http.inbox_cors_origins.clone(),
            secrets: config.secrets.clone(),
            data_dir: config.data_dir.clone(),
            metrics_token: config.metrics.token.clone(),
            channel_destinations: config.channel_destinations(),
            client_address_header: axum::http::HeaderName::try_from(
                config.http.client_address_header.trim(),
            )
            .ok(),
        }
    }
}

impl AppState {
    /// A state with a bus and doorbell of its own. Starts the send queue's task, so it
    /// is called on the Tokio runtime.
    pub fn new(db: DatabaseConnection, config: &Config) -> Self {
        Self::sharing(db, config, Bus::default(), Doorbell::default())
    }

    /// Serves `metrics` (holding more than the API's own) instead of its own.
    pub fn with_metrics(self, metrics: Metrics) -> Self {
        let mut parts = Arc::unwrap_or_clone(self.0);
        parts.metrics = Arc::new(with_process(
            metrics,
            &parts.db,
            &parts.bus,
            &parts.pool_waits,
        ));
        Self(Arc::new(parts))
    }

    /// A state that shares `bus` and `doorbell` with the worker of the same process
    /// (and, through the bus's relay, with other processes).
    pub fn sharing(db: DatabaseConnection, config: &Config, bus: Bus, doorbell: Doorbell) -> Self {
        let pool_waits = PoolWaits::default();
        pool_waits.spawn_probe(db.clone());
        let metrics = Arc::new(with_process(Metrics::new(), &db, &bus, &pool_waits));
        Self(Arc::new(StateParts {
            pool_waits,
            sends: SendQueue::start(db.clone(), bus.clone(), doorbell.clone()),
            api_keys: Arc::new(KeyCache::new(KEY_CACHE_TTL)),
            db,
            settings: Arc::new(Settings::from_config(config)),
            metrics,
            token_keys: Arc::default(),
            sealer: Arc::default(),
            login_throttle: Arc::new(LoginThrottle::new(ThrottlePolicy::from_config(
                &config.auth,
            ))),
            hashing_slots: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, usize::from),
            )),
            bus,
            doorbell,
            closing: CancellationToken::new(),
        }))
    }

    /// The key that seals channel secrets at rest.
    pub async fn sealer(&self) -> herald_core::Result<&Sealer> {
        self.sealer
            .get_or_try_init(|| async {
                Sealer::from_config(&self.settings.secrets, &self.settings.data_dir)
            })
            .await
    }

    /// The keys that sign and check subscriber tokens.
    pub async fn token_keys(&self) -> herald_core::Result<&TokenKeys> {
        self.token_keys
            .get_or_try_init(|| {
                TokenKeys::load(
                    &self.db,
                    &self.settings.subscriber_token_secret,
                    self.settings.subscriber_tokens.clone(),
                )
            })
            .await
    }
}

/// `metrics` with what every process shows: its database pool and its inbox relay's lag.
fn with_process(
    mut metrics: Metrics,
    db: &DatabaseConnection,
    bus: &Bus,
    waits: &PoolWaits,
) -> Metrics {
    let pool = herald_core::db_metrics::PoolGauges(db.clone());
    metrics.register(|registry| {
        registry.register_collector(Box::new(pool));
        waits.register(registry);
        bus.relay_lag().register(registry);
    });
    metrics
}
