//! The `herald` command: parse the command line, load the configuration, hand over.
#![forbid(unsafe_code)]

mod admin;
mod run;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use herald_core::config::Config;

/// mimalloc rather than glibc malloc: the delivery path allocates many small, short-lived
/// buffers (rows, JSON, HTTP bodies), and a profile of a 300k-recipient campaign spent
/// ~17% of the worker's CPU in glibc's allocator. Its v2 rather than v3 (the crate's
/// default): at a million recipients a worker peaked at 79–99 MiB with v2 and 133–137
/// MiB with v3, for the same CPU per delivery (`bench/deliver`, 2026-12-06). It also
/// stands in for C's `malloc` (the `override` feature), which the embedded SQLite
/// allocates with: glibc's allocator took about 4% of the server's CPU in a broadcast
/// to 10,000 connections (`bench/realtime/run`, 2026-12-07).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "herald",
    version,
    about = "Self-hosted multi-channel message push"
)]
struct Cli {
    /// A TOML file layered over the defaults (environment variables override it).
    #[arg(long, global = true, env = "HERALD_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// API, worker and realtime in one process, migrating the database first (default).
    Serve,
    /// Only the HTTP API (scale out behind a load balancer).
    Api,
    /// Only the background worker.
    Worker,
    /// Create or upgrade the database schema and job tables, then exit.
    Migrate,
    /// Prune the delivery log past `retention.delivery_log_days` now, to the end (the
    /// workers do it a bounded pass a minute), then exit.
    Prune,
    /// Print the OpenAPI document.
    Openapi,
    /// Operator accounts.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// API keys for product services.
    ApiKey {
        #[command(subcommand)]
        command: admin::ApiKeyCommand,
    },
    /// Channel secrets sealed at rest.
    Secrets {
        #[command(subcommand)]
        command: admin::SecretsCommand,
    },
}

/// Seconds the runtime waits, after the command has returned, for blocking tasks
/// still running (a DNS lookup, a file read) before the process exits anyway.
const BLOCKING_TASKS_GRACE: Duration = Duration::from_secs(2);

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(run_command());
    runtime.shutdown_timeout(BLOCKING_TASKS_GRACE);
    result
}

async fn run_command() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Openapi = command {
        println!(
            "{}",
            serde_json::to_string_pretty(&herald_api::openapi_document())?
        );
        return Ok(());
    }
    let config = Config::load(cli.config.as_deref())?;
    herald_core::telemetry::init(&config.log);
    match command {
        Command::Serve => run::serve(config).await,
        Command::Api => run::api(config).await,
        Command::Worker => run::worker(config).await,
        Command::Migrate => run::migrate_only(config).await,
        Command::Prune => run::prune(config).await,
        Command::Admin { command } => admin::admin(config, command).await,
        Command::ApiKey { command } => admin::api_key(config, command).await,
        Command::Secrets { command } => admin::secrets(config, command).await,
        Command::Openapi => Ok(()),
    }
}
