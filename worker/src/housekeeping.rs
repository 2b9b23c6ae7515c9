//! Periodic clean-up that keeps tables from growing without bound. Every worker runs
//! it; the statements are idempotent, so several workers at once do no harm.

use std::str::FromStr;

use apalis::prelude::*;
use apalis_cron::{CronScheduler, Tick};
use herald_core::config::RetentionConfig;
use herald_core::retention::Pruned;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::WorkerError;
use crate::pages::QUEUE;

/// Every minute, at second 0.
const SCHEDULE: &str = "0 * * * * *";

/// Finished page tasks are kept this long (seconds) for whoever inspects the queue.
const FINISHED_TASKS_KEPT_SECS: i64 = 3600;

/// One pass of clean-up; returns the number of rows removed.
pub async fn sweep_once(
    db: &DatabaseConnection,
    retention: &RetentionConfig,
) -> Result<u64, herald_core::Error> {
    let purged = herald_core::sessions::purge_expired(db).await?;
    if purged > 0 {
        tracing::info!(purged, "expired sessions deleted");
    }
    let pruned = prune_finished_tasks(db).await?;
    if pruned > 0 {
        tracing::info!(pruned, "finished page tasks deleted");
    }
    let log = herald_core::retention::prune(db, retention, chrono::Utc::now()).await?;
    if log != Pruned::default() {
        tracing::info!(
            deliveries = log.deliveries,
            messages = log.messages,
            "deliveries past the retention period pruned"
        );
    }
    Ok(purged + pruned + log.deliveries + log.messages + log.event_batches)
}

/// Deletes page tasks that finished (done, killed, or failed with no attempt left) over
/// an hour ago: apalis keeps every finished task, and the queue would grow with every
/// campaign.
async fn prune_finished_tasks(db: &DatabaseConnection) -> Result<u64, herald_core::Error> {
    const FINISHED: &str =
        "(status IN ('Done', 'Killed') OR (status = 'Failed' AND attempts >= max_attempts))";
    let backend = db.get_database_backend();
    let statement = match backend {
        DbBackend::Postgres => Statement::from_sql_and_values(
            backend,
            format!(
                "DELETE FROM apalis.jobs WHERE job_type = $1 AND {FINISHED} \
                 AND done_at < now() - make_interval(secs => $2)"
            ),
            [QUEUE.into(), (FINISHED_TASKS_KEPT_SECS as f64).into()],
        ),
        _ => Statement::from_sql_and_values(
            backend,
            format!(
                "DELETE FROM Jobs WHERE job_type = ? AND {FINISHED} \
                 AND done_at < strftime('%s', 'now') - ?"
            ),
            [QUEUE.into(), FINISHED_TASKS_KEPT_SECS.into()],
        ),
    };
    Ok(db.execute_raw(statement).await?.rows_affected())
}

async fn sweep(
    _tick: Tick,
    db: Data<DatabaseConnection>,
    retention: Data<RetentionConfig>,
) -> Result<(), BoxDynError> {
    sweep_once(&db, &retention).await?;
    Ok(())
}

pub async fn run(
    db: DatabaseConnection,
    retention: RetentionConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    let schedule =
        cron::Schedule::from_str(SCHEDULE).map_err(|e| WorkerError::Run(e.to_string()))?;
    let name = format!("housekeeping-{}-{}", hostname(), std::process::id());
    let worker = WorkerBuilder::new(name)
        .backend(CronScheduler::new(schedule))
        .data(db)
        .data(retention)
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
