//! Herald's background worker: apalis jobs on Herald's own database.
#![forbid(unsafe_code)]

pub mod deliver;
pub mod events;
pub mod housekeeping;
pub mod loops;
pub mod metrics;
pub mod pacing;
pub mod pages;
pub mod probes;
pub mod storage;

use std::future::Future;

use futures::FutureExt;
use herald_core::config::Config;
use herald_core::deliveries::Doorbell;
use herald_core::inbox::Bus;
use sea_orm::DatabaseConnection;

pub use metrics::WorkerMetrics;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("job storage setup failed: {0}")]
    Storage(String),
    #[error("worker stopped with an error: {0}")]
    Run(String),
}

/// Runs the worker's jobs (housekeeping, delivery) until `shutdown` completes. Items
/// stored for the inbox are announced on `bus`; `doorbell` wakes the senders when this
/// process queues deliveries; what is attempted is counted in `metrics`.
pub async fn run(
    db: DatabaseConnection,
    config: Config,
    bus: Bus,
    doorbell: Doorbell,
    metrics: WorkerMetrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    let shutdown = shutdown.boxed().shared();
    let retention = config.retention.clone();
    let delivery = loops::run_loop(db.clone(), config, bus, doorbell, metrics, shutdown.clone());
    let delivery = async {
        let ran = delivery.await;
        tracing::info!("delivery stopped");
        ran
    };
    let housekeeping = async {
        let ran = housekeeping::run(db, retention, shutdown).await;
        tracing::info!("housekeeping stopped");
        ran
    };
    let (housekeeping, delivery) = tokio::join!(housekeeping, delivery);
    housekeeping.and(delivery)
}
