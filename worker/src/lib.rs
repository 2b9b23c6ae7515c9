//! Herald's background worker: apalis jobs on Herald's own database.
#![forbid(unsafe_code)]

pub mod deliver;
pub mod housekeeping;
pub mod storage;

use std::future::Future;

use sea_orm::DatabaseConnection;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("job storage setup failed: {0}")]
    Storage(String),
    #[error("worker stopped with an error: {0}")]
    Run(String),
}

/// Runs the worker's jobs until `shutdown` completes.
pub async fn run(
    db: DatabaseConnection,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    housekeeping::run(db, shutdown).await
}
