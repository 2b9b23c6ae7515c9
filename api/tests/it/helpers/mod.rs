//! `spawn_app()`: a Herald API on port 0 over a fresh database per test.
//!
//! `HERALD_TEST_BACKEND=postgres` runs on Postgres (a new database per test, created
//! from `HERALD_TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`,
//! and dropped afterwards); otherwise each test gets its own SQLite file.
//! `TEST_LOG=1` shows the server's logs.

mod contract;
mod database;
mod fixtures;
mod processes;
mod session;
pub mod standard_webhooks;
mod tokens;
mod worker;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use herald_core::access::Role;
use herald_core::api_keys::{self, NewApiKey};
use herald_core::audit::{Actor, AuditContext};
use herald_core::config::Config;
use herald_core::operators::{self, NewOperator};
use sea_orm::DatabaseConnection;
use tokio::sync::oneshot;

#[allow(unused_imports)] // used by the worker process tests at the workspace root
pub use database::{TestDatabase, backend_is_postgres};
pub use fixtures::{insert_message, webhook_channel};
#[allow(unused_imports)] // used by the process tests at the workspace root
pub use processes::{free_port, read_until};
pub use session::Session;
pub use tokens::{TOKEN_SECRET, claims, sign, subscriber_token};
pub use worker::TestWorker;

/// The webhook receiver: the channels tests' own (every test crate that includes these
/// helpers includes it as `support::receiver`).
pub use crate::support::receiver;

pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub addr: SocketAddr,
    /// The separate `/metrics` listener (`metrics.listen`).
    pub metrics_addr: SocketAddr,
    pub db: DatabaseConnection,
    /// The server's inbox bus: what a worker in the same process would publish on.
    pub bus: herald_core::inbox::Bus,
    /// Rung by the server when it queues deliveries, for a worker in the same process.
    pub doorbell: herald_core::deliveries::Doorbell,
    shutdown: Option<oneshot::Sender<()>>,
    database: TestDatabase,
    /// The server's request metrics, read to check the answers it gave.
    metrics: std::sync::Arc<herald_api::metrics::Metrics>,
}

static OPERATOR_SEQ: AtomicUsize = AtomicUsize::new(0);

pub fn test_config() -> Config {
    let mut config = Config::load_from(
        None,
        figment::providers::Env::prefixed("HERALD_UNUSED_IN_TESTS_"),
    )
    .expect("defaults are valid");
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.secrets.key = TEST_SEALING_KEY.to_owned().into();
    // The tests' receivers (SMTP, webhooks, the MQTT broker) listen on loopback.
    config.channels.allowed_private_destinations = TEST_ALLOWED_DESTINATIONS
        .iter()
        .map(|entry| entry.parse().expect("an allow-list entry"))
        .collect();
    config
}

/// What the tests' server configuration lets channel instances reach.
pub const TEST_ALLOWED_DESTINATIONS: [&str; 2] = ["127.0.0.0/8", "::1"];

/// The key that seals channel secrets in tests (32 bytes, base64).
pub const TEST_SEALING_KEY: &str = "dGVzdC1zZWFsaW5nLWtleS0zMi1ieXRlcy1sb25nISE=";

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// An app that accepts subscriber tokens signed with [`TOKEN_SECRET`].
pub async fn spawn_app_with_token_secret() -> TestApp {
    spawn_app_with(|config| {
        config.auth.subscriber_token_secret = TOKEN_SECRET.to_owned().into();
    })
    .await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        herald_core::telemetry::init(&herald_core::config::LogConfig {
            format: herald_core::config::LogFormat::Text,
            filter: "debug,sqlx=warn,hyper=info".into(),
        });
    }
    let database = TestDatabase::create().await;
    let db = database.connect().await;
    let mut config = test_config();
    adjust(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let state = herald_api::AppState::new(db.clone(), &config);
    let bus = state.bus.clone();
    let doorbell = state.doorbell.clone();
    let metrics = state.metrics.clone();
    let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let metrics_addr = metrics_listener.local_addr().expect("addr");
    tokio::spawn(herald_api::serve_metrics(
        state.clone(),
        metrics_listener,
        std::future::pending(),
    ));
    tokio::spawn(async move {
        herald_api::serve(state, listener, async {
            let _ = rx.await;
        })
        .await
        .expect("server runs");
    });
    TestApp {
        addr,
        metrics_addr,
        db,
        bus,
        doorbell,
        shutdown: Some(tx),
        database,
        metrics,
    }
}

impl TestApp {
    /// The database the app runs on, for other processes to share.
    #[allow(dead_code)] // used by the worker process tests at the workspace root
    pub fn database_url(&self) -> &str {
        self.database.url()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A worker's deliverer on this app's database, with the test configuration.
    #[allow(dead_code)] // not used by the tests at the workspace root
    pub async fn deliverer(&self) -> herald_worker::deliver::Deliverer {
        herald_worker::deliver::Deliverer::new(self.db.clone(), &test_config())
            .await
            .expect("the channel instances load")
    }

    /// A client with no credentials.
    pub fn anonymous(&self) -> reqwest::Client {
        reqwest::Client::new()
    }

    /// Creates an operator with `role` and logs it in.
    pub async fn operator(&self, role: Role) -> Session {
        let username = format!(
            "{}-{}",
            role.as_str(),
            OPERATOR_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        operators::create(
            &self.db,
            &AuditContext::new(Actor::System),
            NewOperator {
                username: username.clone(),
                display_name: None,
                password: PASSWORD.into(),
                role,
            },
        )
        .await
        .expect("operator created");
        self.login(&username, PASSWORD).await
    }

    pub async fn login(&self, username: &str, password: &str) -> Session {
        Session::login(self.url(""), username, password)
            .await
            .unwrap_or_else(|status| panic!("login of {username} failed with {status}"))
    }

    /// Creates an API key with these scopes and returns its secret.
    pub async fn api_key(&self, scopes: &[&str]) -> String {
        api_keys::create(
            &self.db,
            &AuditContext::new(Actor::System),
            NewApiKey {
                name: format!("test key {}", OPERATOR_SEQ.fetch_add(1, Ordering::Relaxed)),
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                expires_at: None,
            },
        )
        .await
        .expect("key created")
        .secret
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Unless the test failed already: every answer given must be documented.
        if !std::thread::panicking() {
            let metrics = self.metrics.render().expect("metrics render");
            let undocumented = contract::undocumented_answers(&metrics);
            assert!(
                undocumented.is_empty(),
                "answers outside the OpenAPI document:\n{}",
                undocumented.join("\n")
            );
        }
    }
}

/// The `error` object of an error response, asserting its status.
pub async fn error_of(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let body: serde_json::Value = response.json().await.expect("error body is JSON");
    body["error"].clone()
}
