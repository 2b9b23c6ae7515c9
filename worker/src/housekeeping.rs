//! Periodic clean-up that keeps tables from growing without bound. Every worker runs
//! it; the statements are idempotent, so several workers at once do no harm.

use std::str::FromStr;

use apalis::prelude::*;
use apalis_cron::{CronScheduler, Tick};
use sea_orm::DatabaseConnection;

use crate::WorkerError;

/// Every minute, at second 0.
const SCHEDULE: &str = "0 * * * * *";

/// One pass of clean-up; returns the number of rows removed.
pub async fn sweep_once(db: &DatabaseConnection) -> Result<u64, herald_core::Error> {
    let purged = herald_core::sessions::purge_expired(db).await?;
    if purged > 0 {
        tracing::info!(purged, "expired sessions deleted");
    }
    Ok(purged)
}

async fn sweep(_tick: Tick, db: Data<DatabaseConnection>) -> Result<(), BoxDynError> {
    sweep_once(&db).await?;
    Ok(())
}

pub async fn run(
    db: DatabaseConnection,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    let schedule =
        cron::Schedule::from_str(SCHEDULE).map_err(|e| WorkerError::Run(e.to_string()))?;
    let name = format!("housekeeping-{}-{}", hostname(), std::process::id());
    let worker = WorkerBuilder::new(name)
        .backend(CronScheduler::new(schedule))
        .data(db)
        .build(sweep);
    worker
        .run_until(async move {
            shutdown.await;
            Ok::<(), std::io::Error>(())
        })
        .await
        .map_err(|e| WorkerError::Run(e.to_string()))
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "local".to_owned())
}
