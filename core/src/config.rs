//! Configuration in layers: the commented defaults file, then an optional TOML
//! file, then `HERALD_*` environment variables. Validated once at start-up.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use herald_channels::http::ssrf::{AllowEntry, SsrfGuard};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The defaults, with a comment for every key; also what `herald config` users read.
pub const DEFAULTS_TOML: &str = include_str!("../config.default.toml");

/// Environment variables with this prefix that are not configuration keys.
const NON_CONFIG_ENV: &[&str] = &[
    "config",
    "new_operator_password",
    "test_database_url",
    "test_backend",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: SecretString,
    pub data_dir: PathBuf,
    pub public_url: String,
    pub admin_user: String,
    pub admin_password: SecretString,
    pub shutdown_grace_secs: u64,
    pub log: LogConfig,
    pub http: HttpConfig,
    pub auth: AuthConfig,
    pub database: DatabaseConfig,
    pub delivery: DeliveryConfig,
    pub retention: RetentionConfig,
    pub secrets: SecretsConfig,
    pub metrics: MetricsConfig,
    pub channels: ChannelsConfig,
    pub bus: BusConfig,
}

/// How Herald processes tell each other that an inbox changed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusConfig {
    /// A NATS server to relay through; empty: Postgres LISTEN/NOTIFY.
    pub nats_url: String,
    /// The NATS subject, one per deployment sharing the server.
    pub nats_subject: String,
}

/// Where Prometheus reads `/metrics`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelsConfig {
    /// Loopback, private or link-local destinations channel instances may reach: CIDR
    /// networks (or bare IPs) and exact `host:port` pairs. Nothing else an instance's
    /// settings name may point there.
    pub allowed_private_destinations: Vec<AllowEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// A bearer token that `/metrics` on the API port requires; empty: not served there.
    pub token: SecretString,
    /// A separate listener serving only `/metrics`, without a token (bind it to a
    /// private address); `herald worker` also answers `/healthz` and `/readyz` there.
    pub listen: Option<SocketAddr>,
}

/// How long the delivery log keeps finished deliveries (see [`crate::retention`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days a finished delivery is kept after the day it was created; 0: for ever.
    pub delivery_log_days: u32,
    /// Deliveries looked at per pruning statement.
    pub batch_size: u64,
}

/// The key that seals channel secrets at rest (see [`crate::sealing`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    /// 32 random bytes in base64. Empty: a key generated into `data_dir/secrets.key`.
    pub key: SecretString,
    /// Keys used before the current one, still accepted for opening while secrets are
    /// resealed (`herald secrets reseal`).
    pub previous_keys: Vec<SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    pub filter: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub body_limit_bytes: usize,
    pub import_body_limit_bytes: usize,
    pub request_timeout_secs: u64,
    /// Seconds a client has to send a request head (a slow-loris guard); a keep-alive
    /// connection idle that long is closed.
    pub header_read_timeout_secs: u64,
    /// Open inbox streams (SSE, WebSocket, iframe) one subscriber may hold at once.
    pub max_streams_per_subscriber: usize,
    /// Several processes on one machine share the `listen` port (SO_REUSEPORT).
    pub reuse_port: bool,
    /// Seconds between the pings a WebSocket stream sends; a client that has not
    /// answered one by the next is dropped, as is any HTTP client that takes nothing
    /// written to it for two intervals.
    pub stream_ping_secs: u64,
    /// Origins whose pages may call the inbox routes cross-origin (CORS).
    pub inbox_cors_origins: Vec<String>,
    /// The header a reverse proxy puts the client's address in (its last entry is
    /// taken); empty: the address of the connection.
    pub client_address_header: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Failed logins allowed per username, and per client address, before a lock-out.
    pub login_max_failures: u32,
    pub login_max_failures_per_address: u32,
    /// The first lock-out in seconds; each further one doubles it (up to an hour).
    pub login_lockout_secs: u64,
    /// The absolute lifetime of a login session.
    pub session_ttl_secs: u64,
    /// A session unused for this long ends.
    pub session_idle_timeout_secs: u64,
    pub secure_cookies: bool,
    /// The HS256 secret of subscriber tokens, for products that sign their own. Empty:
    /// a secret generated and kept in the database (tokens come from the API only).
    pub subscriber_token_secret: SecretString,
    /// The `aud` claim subscriber tokens must carry.
    pub subscriber_token_audience: String,
    /// The longest a subscriber token may live (`exp` - `iat`).
    pub subscriber_token_max_lifetime_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Connections in the pool; unset: see [`Config::database_pool_size`].
    pub max_connections: Option<u32>,
    pub acquire_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Seconds to wait before each retry; a delivery that fails once more is dead.
    pub retry_schedule_secs: Vec<u64>,
    /// Each wait is stretched or shrunk at random by up to this fraction.
    pub retry_jitter: f64,
    /// How long a worker may hold a claimed delivery before others may take it back.
    pub lease_secs: u64,
    /// Deliveries claimed per round.
    pub batch_size: u64,
    /// Sends in flight at once per batch.
    pub concurrency: usize,
    /// Batches each worker works on side by side: while one is being sent, the next
    /// is claimed and the last recorded.
    pub batches_in_flight: usize,
    /// How long an idle worker waits before it looks for work again.
    pub poll_interval_ms: u64,
    /// Seconds between a worker's heartbeats in the job queue. A worker silent for
    /// [`MISSED_HEARTBEATS`] of them is taken for dead and its tasks run again elsewhere.
    pub heartbeat_secs: u64,
    /// The sender of emails (`Name <address>` or an address).
    pub email_from: String,
    pub pacing: PacingConfig,
}

/// Adaptive pacing of sends per channel instance and receiving host.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PacingConfig {
    /// The slowest a pushed-back lane is paced, in sends per second.
    pub floor_per_sec: f64,
    /// The fastest any lane goes, in sends per second; 0: no ceiling.
    pub ceiling_per_sec: f64,
    /// How much a paced lane's rate grows for each second of sends without push-back.
    pub step_per_sec: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

/// Heartbeats a job-queue worker may miss before its tasks are given to another.
pub const MISSED_HEARTBEATS: u64 = 3;

/// The longest the configuration may let a subscriber token live: 30 days.
pub const MAX_SUBSCRIBER_TOKEN_LIFETIME_SECS: u64 = 30 * 24 * 3600;

impl Config {
    /// The SSRF policy for the destinations channel instances name.
    pub fn channel_destinations(&self) -> SsrfGuard {
        SsrfGuard::new(&self.channels.allowed_private_destinations)
    }

    /// Loads defaults, then `file` (if any), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, Env::prefixed("HERALD_"))
    }

    /// Like [`Config::load`] with the environment layer given, so tests need not touch
    /// the process environment.
    pub fn load_from(file: Option<&Path>, env: Env) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS_TOML));
        if let Some(path) = file {
            figment = figment.merge(Toml::file_exact(path));
        }
        let env = env
            .filter(|key| !NON_CONFIG_ENV.contains(&key.as_str().to_ascii_lowercase().as_str()))
            .split("__");
        let config: Config = figment.merge(env).extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| ConfigError::Invalid {
            key,
            message: message.to_owned(),
        };
        let url = self.database_url.expose_secret();
        if !url.is_empty()
            && !["postgres://", "postgresql://", "sqlite:"]
                .iter()
                .any(|scheme| url.starts_with(scheme))
        {
            return Err(invalid(
                "database_url",
                "must start with postgres://, postgresql:// or sqlite:",
            ));
        }
        if self.admin_user.trim().is_empty() || self.admin_user.len() > 64 {
            return Err(invalid("admin_user", "must be 1 to 64 characters"));
        }
        let password = self.admin_password.expose_secret();
        if !password.is_empty() && password.chars().count() < crate::operators::MIN_PASSWORD_LEN {
            return Err(invalid(
                "admin_password",
                "must be at least 12 characters (or empty to generate one)",
            ));
        }
        if !(1..=100_000).contains(&self.retention.batch_size) {
            return Err(invalid("retention.batch_size", "must be 1 to 100000"));
        }
        if self.retention.delivery_log_days > 36_500 {
            return Err(invalid(
                "retention.delivery_log_days",
                "must be at most 36500 (0 keeps everything)",
            ));
        }
        if self.shutdown_grace_secs == 0 {
            return Err(invalid("shutdown_grace_secs", "must be at least 1"));
        }
        // Waits far past these would only ever overflow the clock, never be waited out.
        const MONTH_SECS: u64 = 30 * 24 * 3600;
        if self
            .delivery
            .retry_schedule_secs
            .iter()
            .any(|&s| s > MONTH_SECS)
        {
            return Err(invalid(
                "delivery.retry_schedule_secs",
                "each wait must be at most 30 days (2592000 seconds)",
            ));
        }
        let pacing = &self.delivery.pacing;
        if !(pacing.floor_per_sec > 0.0 && pacing.floor_per_sec.is_finite()) {
            return Err(invalid(
                "delivery.pacing.floor_per_sec",
                "must be a number above 0",
            ));
        }
        if !(pacing.step_per_sec > 0.0 && pacing.step_per_sec.is_finite()) {
            return Err(invalid(
                "delivery.pacing.step_per_sec",
                "must be a number above 0",
            ));
        }
        let ceiling = pacing.ceiling_per_sec;
        if ceiling != 0.0 && (ceiling.is_nan() || ceiling < pacing.floor_per_sec) {
            return Err(invalid(
                "delivery.pacing.ceiling_per_sec",
                "must be 0 (no ceiling) or at least the floor",
            ));
        }
        if !(1..=300).contains(&self.delivery.heartbeat_secs) {
            return Err(invalid(
                "delivery.heartbeat_secs",
                "must be 1 to 300 seconds",
            ));
        }
        if !(1..=24 * 3600).contains(&self.delivery.lease_secs) {
            return Err(invalid("delivery.lease_secs", "must be 1 to 86400 seconds"));
        }
        if !(0.0..1.0).contains(&self.delivery.retry_jitter) {
            return Err(invalid(
                "delivery.retry_jitter",
                "must be at least 0 and below 1",
            ));
        }
        if self.delivery.batch_size == 0
            || self.delivery.concurrency == 0
            || self.delivery.batches_in_flight == 0
            || self.delivery.poll_interval_ms == 0
        {
            return Err(invalid(
                "delivery.batch_size",
                "batch_size, concurrency, batches_in_flight and poll_interval_ms must be at least 1",
            ));
        }
        if !self.public_url.is_empty() {
            let parsed = url::Url::parse(&self.public_url)
                .map_err(|e| invalid("public_url", &e.to_string()))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(invalid("public_url", "must be an http or https URL"));
            }
        }
        let nats = &self.bus.nats_url;
        if !nats.is_empty() && !["nats://", "tls://"].iter().any(|s| nats.starts_with(s)) {
            return Err(invalid(
                "bus.nats_url",
                "must be empty or start with nats:// or tls://",
            ));
        }
        let subject = &self.bus.nats_subject;
        let token = |t: &str| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_graphic() && c != '*' && c != '>')
        };
        if !subject.split('.').all(token) {
            return Err(invalid(
                "bus.nats_subject",
                "must be dot-separated tokens without spaces or wildcards, e.g. herald.inbox",
            ));
        }
        if self.http.reuse_port && self.uses_sqlite() {
            return Err(invalid(
                "http.reuse_port",
                "needs Postgres: processes sharing a port relay inbox changes through it (or NATS)",
            ));
        }
        if self.http.stream_ping_secs == 0 {
            return Err(invalid("http.stream_ping_secs", "must be at least 1"));
        }
        if self.http.max_streams_per_subscriber == 0 {
            return Err(invalid(
                "http.max_streams_per_subscriber",
                "must be at least 1",
            ));
        }
        for origin in &self.http.inbox_cors_origins {
            let parsed = url::Url::parse(origin)
                .map_err(|e| invalid("http.inbox_cors_origins", &format!("{origin}: {e}")))?;
            let bare = parsed.path() == "/" && parsed.query().is_none() && !origin.ends_with('/');
            if !matches!(parsed.scheme(), "http" | "https") || !bare {
                return Err(invalid(
                    "http.inbox_cors_origins",
                    &format!("{origin}: must be an origin like https://shop.example.com"),
                ));
            }
        }
        if self.http.body_limit_bytes == 0 {
            return Err(invalid("http.body_limit_bytes", "must be positive"));
        }
        if self.http.import_body_limit_bytes < self.http.body_limit_bytes {
            return Err(invalid(
                "http.import_body_limit_bytes",
                "must be at least http.body_limit_bytes",
            ));
        }
        if self.http.request_timeout_secs == 0 {
            return Err(invalid("http.request_timeout_secs", "must be positive"));
        }
        if self.http.header_read_timeout_secs == 0 {
            return Err(invalid("http.header_read_timeout_secs", "must be positive"));
        }
        let token_secret = self.auth.subscriber_token_secret.expose_secret();
        if !token_secret.is_empty() && token_secret.len() < 32 {
            return Err(invalid(
                "auth.subscriber_token_secret",
                "must be empty or at least 32 characters",
            ));
        }
        if self.auth.subscriber_token_audience.trim().is_empty() {
            return Err(invalid(
                "auth.subscriber_token_audience",
                "must not be empty",
            ));
        }
        if !(60..=MAX_SUBSCRIBER_TOKEN_LIFETIME_SECS)
            .contains(&self.auth.subscriber_token_max_lifetime_secs)
        {
            return Err(invalid(
                "auth.subscriber_token_max_lifetime_secs",
                "must be 60 seconds to 30 days",
            ));
        }
        if !(60..=366 * 24 * 3600).contains(&self.auth.session_ttl_secs) {
            return Err(invalid(
                "auth.session_ttl_secs",
                "must be 60 seconds to a year",
            ));
        }
        if self.auth.session_idle_timeout_secs < 60 {
            return Err(invalid(
                "auth.session_idle_timeout_secs",
                "must be at least 60",
            ));
        }
        if self.database.max_connections == Some(0) {
            return Err(invalid("database.max_connections", "must be positive"));
        }
        Ok(())
    }

    /// The URL people use to reach this server, without a trailing slash.
    pub fn public_url(&self) -> String {
        if self.public_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.public_url.trim_end_matches('/').to_owned()
        }
    }

    /// The database URL to connect to: the configured one, or the embedded SQLite file.
    pub fn effective_database_url(&self) -> SecretString {
        let url = self.database_url.expose_secret();
        if url.is_empty() {
            let file = self.data_dir.join("herald.db");
            SecretString::from(format!("sqlite://{}?mode=rwc", file.display()))
        } else {
            self.database_url.clone()
        }
    }

    /// Connections in the pool: as configured, else 10 on Postgres and 4 on SQLite.
    /// SQLite writes one at a time, and each connection drops its page cache whenever
    /// another one wrote, so more connections only add threads and cache misses (the
    /// realtime benchmark ran 10-25% faster with 4 than with 10).
    pub fn database_pool_size(&self) -> u32 {
        self.database
            .max_connections
            .unwrap_or(if self.uses_sqlite() { 2 } else { 10 })
    }

    /// How long a pooled connection may sit idle before it is pinged on its next use.
    /// A SQLite connection is a file handle with no peer to lose, so it never is; a
    /// Postgres connection idle that long may have been closed by the server or a proxy.
    /// (Pinging on every use would add a round trip to every query.)
    pub fn database_ping_after_idle(&self) -> Option<std::time::Duration> {
        (!self.uses_sqlite()).then_some(std::time::Duration::from_secs(30))
    }

    fn uses_sqlite(&self) -> bool {
        self.effective_database_url()
            .expose_secret()
            .starts_with("sqlite:")
    }

    /// True when no database was configured and Herald uses its own SQLite file.
    pub fn uses_embedded_database(&self) -> bool {
        self.database_url.expose_secret().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The closure must return figment's own (large) error type; that is its API.
    #[allow(clippy::result_large_err)]
    /// Loads the configuration with exactly these `HERALD_*` variables set.
    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut result = None;
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            for (key, value) in pairs {
                jail.set_env(format!("HERALD_{key}"), value);
            }
            result = Some(Config::load(None));
            Ok(())
        });
        result.expect("the jail ran the closure")
    }

    #[test]
    fn defaults_load_and_are_valid() {
        let config = load(&[]).expect("defaults are valid");
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.admin_user, "admin");
        assert!(config.uses_embedded_database());
        assert_eq!(config.public_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn environment_overrides_top_level_and_nested_keys() {
        let config = load(&[
            ("LISTEN", "0.0.0.0:9000"),
            ("DATABASE_URL", "postgres://u@h/db"),
            ("LOG__FORMAT", "json"),
        ])
        .expect("valid");
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.log.format, LogFormat::Json);
        assert!(!config.uses_embedded_database());
    }

    #[test]
    fn bad_values_name_their_key() {
        for (pair, key) in [
            (("LISTEN", "not-an-address"), "listen"),
            (("DATABASE_URL", "mysql://x"), "database_url"),
            (("LOG__FORMAT", "xml"), "format"),
            (("ADMIN_PASSWORD", "short"), "admin_password"),
            (("SHUTDOWN_GRACE_SECS", "0"), "shutdown_grace_secs"),
            (("RETENTION__BATCH_SIZE", "0"), "retention.batch_size"),
            (("HTTP__BODY_LIMIT_BYTES", "0"), "http.body_limit_bytes"),
            (
                ("DELIVERY__PACING__FLOOR_PER_SEC", "0"),
                "delivery.pacing.floor_per_sec",
            ),
            (
                ("DELIVERY__PACING__CEILING_PER_SEC", "0.5"),
                "delivery.pacing.ceiling_per_sec",
            ),
            (
                (
                    "HTTP__INBOX_CORS_ORIGINS",
                    r#"["https://shop.example.com/app"]"#,
                ),
                "http.inbox_cors_origins",
            ),
            (("BUS__NATS_URL", "http://127.0.0.1:4222"), "bus.nats_url"),
            (("BUS__NATS_SUBJECT", "herald.>"), "bus.nats_subject"),
            (("BUS__NATS_SUBJECT", "herald..inbox"), "bus.nats_subject"),
            (("HTTP__REUSE_PORT", "true"), "http.reuse_port"),
        ] {
            let err = load(&[pair]).expect_err("must be refused").to_string();
            assert!(err.to_lowercase().contains(key), "{err} should name {key}");
        }
    }

    #[test]
    fn processes_share_a_port_only_on_postgres() {
        let share = ("HTTP__REUSE_PORT", "true");
        let postgres = ("DATABASE_URL", "postgres://u@h/db");
        assert!(load(&[share, postgres]).expect("valid").http.reuse_port);
        assert!(!load(&[postgres]).expect("valid").http.reuse_port);
    }

    #[test]
    fn the_pool_fits_the_database_unless_configured() {
        assert_eq!(load(&[]).expect("valid").database_pool_size(), 2);
        let postgres = ("DATABASE_URL", "postgres://u@h/db");
        assert_eq!(load(&[postgres]).expect("valid").database_pool_size(), 10);
        let configured = load(&[("DATABASE__MAX_CONNECTIONS", "7")]).expect("valid");
        assert_eq!(configured.database_pool_size(), 7);
        let err = load(&[("DATABASE__MAX_CONNECTIONS", "0")]).expect_err("refused");
        assert!(err.to_string().contains("database.max_connections"));
    }

    #[test]
    fn only_postgres_connections_are_pinged_and_only_after_idling() {
        assert_eq!(load(&[]).expect("valid").database_ping_after_idle(), None);
        let postgres = load(&[("DATABASE_URL", "postgres://u@h/db")]).expect("valid");
        assert_eq!(
            postgres.database_ping_after_idle(),
            Some(std::time::Duration::from_secs(30))
        );
    }

    #[test]
    fn inbox_cors_origins_come_as_a_list() {
        let origins = r#"["https://shop.example.com", "http://localhost:3000"]"#;
        let config = load(&[("HTTP__INBOX_CORS_ORIGINS", origins)]).expect("valid");
        assert_eq!(
            config.http.inbox_cors_origins,
            ["https://shop.example.com", "http://localhost:3000"]
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = load(&[("LISTN", "127.0.0.1:1")])
            .expect_err("refused")
            .to_string();
        assert!(err.contains("listn"), "{err}");
    }
}
