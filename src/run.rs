//! Wiring the long-running parts together: database, migrations, API, worker, signals.

use anyhow::Context;
use herald_core::config::Config;
use herald_core::deliveries::Doorbell;
use herald_core::inbox::Bus;
use herald_core::operators::{self, Bootstrap};
use herald_migrations::{Migrator, MigratorTrait};
use herald_worker::WorkerMetrics;
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub async fn connect(config: &Config) -> anyhow::Result<DatabaseConnection> {
    herald_core::db::connect(config)
        .await
        .context("cannot open the database (check HERALD_DATABASE_URL)")
}

/// Applies Herald's migrations and the job tables.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .context("database migration failed")?;
    herald_worker::storage::setup(db).await?;
    Ok(())
}

/// Separate `api` and `worker` processes do not migrate (two nodes starting together
/// must not race on the schema); they refuse to start on an old one.
async fn require_current_schema(db: &DatabaseConnection) -> anyhow::Result<()> {
    let pending = Migrator::get_pending_migrations(db).await?;
    if !pending.is_empty() {
        anyhow::bail!(
            "the database schema is {} migration(s) behind; run `herald migrate` first",
            pending.len()
        );
    }
    Ok(())
}

pub async fn migrate_only(config: Config) -> anyhow::Result<()> {
    let db = connect(&config).await?;
    migrate(&db).await?;
    println!("database is up to date");
    Ok(())
}

/// Prunes pass after pass until a pass finds nothing more, printing what went.
pub async fn prune(config: Config) -> anyhow::Result<()> {
    if config.retention.delivery_log_days == 0 {
        println!("retention.delivery_log_days is 0: the delivery log is kept in full");
        return Ok(());
    }
    let db = connect(&config).await?;
    require_current_schema(&db).await?;
    let started = std::time::Instant::now();
    let mut total = herald_core::retention::Pruned::default();
    loop {
        let pass = herald_core::retention::prune(&db, &config.retention, chrono::Utc::now())
            .await
            .context("pruning the delivery log failed")?;
        total.deliveries += pass.deliveries;
        total.messages += pass.messages;
        total.event_batches += pass.event_batches;
        if pass == herald_core::retention::Pruned::default() {
            break;
        }
    }
    println!(
        "pruned {} deliveries, {} transactional messages and {} delivered event batches \
         in {:.1} s",
        total.deliveries,
        total.messages,
        total.event_batches,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Cancelled on SIGTERM or Ctrl-C; every part watches it and drains.
fn shutdown_token() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(signal) => signal,
                    Err(error) => {
                        tracing::error!(%error, "cannot listen for SIGTERM");
                        let _ = ctrl_c.await;
                        trigger.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        trigger.cancel();
    });
    token
}

async fn bind(config: &Config) -> anyhow::Result<TcpListener> {
    let address = config.listen;
    let bound = if config.http.reuse_port {
        shared_listener(address)
    } else {
        TcpListener::bind(address).await
    };
    bound.with_context(|| format!("cannot listen on {address} (HERALD_LISTEN)"))
}

/// A listener other processes may bind as well (`http.reuse_port`): the kernel spreads
/// new connections across all of them.
fn shared_listener(address: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    /// What `TcpListener::bind` asks for; the kernel caps it at `net.core.somaxconn`.
    const BACKLOG: u32 = 1024;
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(address)?;
    socket.listen(BACKLOG)
}

async fn bootstrap_admin(config: &Config, db: &DatabaseConnection) -> anyhow::Result<()> {
    let configured = Some(config.admin_password.expose_secret()).filter(|p| !p.is_empty());
    let base = config.public_url();
    match operators::ensure_first_admin(db, &config.admin_user, configured).await? {
        Bootstrap::Created {
            username,
            generated_password: Some(password),
        } => {
            println!(
                "Created the first admin. Log in (POST {base}/v1/auth/login, or try it from {base}/docs) as `{username}` with password:\n\n    {password}\n"
            );
            println!(
                "It is shown only this once; set HERALD_ADMIN_PASSWORD to choose it yourself."
            );
        }
        Bootstrap::Created { username, .. } => {
            println!(
                "Created the first admin `{username}` with the password from HERALD_ADMIN_PASSWORD."
            );
        }
        Bootstrap::AlreadySetUp => {}
    }
    Ok(())
}

fn print_banner(config: &Config) {
    let base = config.public_url();
    println!("Herald is listening on {} ({})", config.listen, base);
    println!("  API docs:  {base}/docs");
    println!("  inbox:     {base}/demo (a subscriber's messages and unread badge, live)");
    println!("  health:    {base}/healthz");
    if config.uses_embedded_database() {
        println!(
            "  database:  embedded SQLite under {}",
            config.data_dir.display()
        );
    }
}

/// Loads (or on first start generates) the key that seals channel secrets, so a bad
/// key stops the process at start rather than at the first channel change.
fn check_sealing_key(config: &Config) -> anyhow::Result<()> {
    herald_core::sealing::Sealer::from_config(&config.secrets, &config.data_dir)?;
    Ok(())
}

/// Starts `herald worker`'s listener (`/healthz`, `/readyz`, `/metrics`) when
/// `metrics.listen` is set.
async fn serve_probes(
    config: &Config,
    db: &DatabaseConnection,
    bus: &Bus,
    metrics: &WorkerMetrics,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let Some(listener) = metrics_listener(config, "/healthz, /readyz and /metrics").await? else {
        return Ok(());
    };
    let mut registry = prometheus_client::registry::Registry::with_prefix("herald");
    metrics.register(&mut registry);
    let pool = herald_core::db_metrics::PoolGauges(db.clone());
    registry.register_collector(Box::new(pool));
    let waits = herald_core::db_metrics::PoolWaits::default();
    waits.register(&mut registry);
    waits.spawn_probe(db.clone());
    bus.relay_lag().register(&mut registry);
    let shutdown = shutdown.clone().cancelled_owned();
    let db = db.clone();
    tokio::spawn(async move {
        if let Err(error) = herald_worker::probes::serve(listener, db, registry, shutdown).await {
            tracing::error!(%error, "the probe listener failed");
        }
    });
    Ok(())
}

/// The listener at `metrics.listen`, when one is set, serving `what`.
async fn metrics_listener(config: &Config, what: &str) -> anyhow::Result<Option<TcpListener>> {
    let Some(address) = config.metrics.listen else {
        return Ok(None);
    };
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen for {what} on {address}"))?;
    tracing::info!(%address, "serving {what}");
    Ok(Some(listener))
}

/// Starts the separate `/metrics` listener when `metrics.listen` is set.
async fn serve_metrics(
    config: &Config,
    state: &herald_api::AppState,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let Some(listener) = metrics_listener(config, "/metrics").await? else {
        return Ok(());
    };
    tokio::spawn(herald_api::serve_metrics(
        state.clone(),
        listener,
        shutdown.clone().cancelled_owned(),
    ));
    Ok(())
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    check_sealing_key(&config)?;
    let db = connect(&config).await?;
    migrate(&db).await?;
    bootstrap_admin(&config, &db).await?;
    let listener = bind(&config).await?;
    print_banner(&config);
    let shutdown = shutdown_token();
    // The worker wakes this process's inbox streams directly, and other processes'
    // through the relay.
    let bus = inbox_bus(&config, &db, &shutdown).await?;
    let doorbell = doorbell(
        &db,
        &shutdown,
        Rings {
            send: true,
            hear: true,
        },
    )
    .await?;
    // One `/metrics` for both halves of the process.
    let worker_metrics = WorkerMetrics::default();
    let mut metrics = herald_api::metrics::Metrics::new();
    metrics.register(|registry| worker_metrics.register(registry));
    let state = herald_api::AppState::sharing(db.clone(), &config, bus.clone(), doorbell.clone())
        .with_metrics(metrics);
    serve_metrics(&config, &state, &shutdown).await?;
    let api = async {
        let served = herald_api::serve(state, listener, shutdown.clone().cancelled_owned()).await;
        tracing::info!("the API server stopped");
        served
    };
    let worker = async {
        let ran = herald_worker::run(
            db,
            config.clone(),
            bus,
            doorbell,
            worker_metrics,
            shutdown.clone().cancelled_owned(),
        )
        .await;
        tracing::info!("the worker stopped");
        ran
    };
    let both = async {
        let (api, worker) = tokio::join!(api, worker);
        api.context("the API server failed")?;
        Ok(worker?)
    };
    stop_within_grace(both, &shutdown, &config).await
}

pub async fn api(config: Config) -> anyhow::Result<()> {
    check_sealing_key(&config)?;
    let db = connect(&config).await?;
    require_current_schema(&db).await?;
    let listener = bind(&config).await?;
    print_banner(&config);
    let shutdown = shutdown_token();
    let bus = inbox_bus(&config, &db, &shutdown).await?;
    // Wakes the workers of other processes when this one queues deliveries.
    let doorbell = doorbell(
        &db,
        &shutdown,
        Rings {
            send: true,
            hear: false,
        },
    )
    .await?;
    let state = herald_api::AppState::sharing(db, &config, bus, doorbell);
    serve_metrics(&config, &state, &shutdown).await?;
    let api = async {
        herald_api::serve(state, listener, shutdown.clone().cancelled_owned())
            .await
            .context("the API server failed")
    };
    stop_within_grace(api, &shutdown, &config).await
}

pub async fn worker(config: Config) -> anyhow::Result<()> {
    let db = connect(&config).await?;
    require_current_schema(&db).await?;
    tracing::info!("worker started");
    let shutdown = shutdown_token();
    let bus = inbox_bus(&config, &db, &shutdown).await?;
    // Rung by API processes on Postgres; otherwise work is found by polling.
    let doorbell = doorbell(
        &db,
        &shutdown,
        Rings {
            send: false,
            hear: true,
        },
    )
    .await?;
    let metrics = WorkerMetrics::default();
    serve_probes(&config, &db, &bus, &metrics, &shutdown).await?;
    let worker = async {
        herald_worker::run(
            db,
            config.clone(),
            bus,
            doorbell,
            metrics,
            shutdown.clone().cancelled_owned(),
        )
        .await?;
        Ok(())
    };
    stop_within_grace(worker, &shutdown, &config).await
}

/// Runs `parts` to their end, but once `shutdown` fires gives them only
/// `shutdown_grace_secs` to finish: a stop that hangs (a database that no longer
/// answers) must not keep the process from exiting. What a worker held is taken over by
/// another after its heartbeats stop.
async fn stop_within_grace(
    parts: impl Future<Output = anyhow::Result<()>>,
    shutdown: &CancellationToken,
    config: &Config,
) -> anyhow::Result<()> {
    let grace = std::time::Duration::from_secs(config.shutdown_grace_secs);
    let grace_over = async {
        shutdown.cancelled().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        stopped = parts => stopped,
        () = grace_over => anyhow::bail!(
            "still stopping {} seconds after the signal (shutdown_grace_secs); exiting with work unfinished",
            grace.as_secs()
        ),
    }
}

/// The inbox bus of this process, relayed to every other Herald process until
/// shutdown: through NATS when configured, else through Postgres (LISTEN/NOTIFY); on
/// SQLite without NATS, this process is the only one.
async fn inbox_bus(
    config: &Config,
    db: &DatabaseConnection,
    shutdown: &CancellationToken,
) -> anyhow::Result<Bus> {
    use herald_core::inbox::relay;
    let bus = Bus::default();
    let nats = &config.bus.nats_url;
    if !nats.is_empty() {
        relay::nats::start(nats, &config.bus.nats_subject, &bus, shutdown.clone())
            .await
            .context("cannot relay inbox signals through NATS")?;
    } else if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        relay::postgres::start(db, &bus, shutdown.clone())
            .await
            .context("cannot listen for inbox signals on Postgres")?;
    }
    Ok(bus)
}

/// What a process does with rings from other processes on Postgres (LISTEN/NOTIFY).
#[derive(Clone, Copy)]
struct Rings {
    /// It queues work: other processes' workers should hear of it.
    send: bool,
    /// It has a worker: it should hear of work queued elsewhere.
    hear: bool,
}

/// Wakes this process's worker when deliveries are queued here and, on Postgres, joins
/// the `herald_work` notifications as `rings` says, until shutdown.
async fn doorbell(
    db: &DatabaseConnection,
    shutdown: &CancellationToken,
    rings: Rings,
) -> anyhow::Result<Doorbell> {
    let doorbell = Doorbell::default();
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        if rings.send {
            doorbell.ring_through(db, shutdown.clone());
        }
        if rings.hear {
            doorbell
                .hear_through(db, shutdown.clone())
                .await
                .context("cannot listen for queued work on Postgres")?;
        }
    }
    Ok(doorbell)
}
