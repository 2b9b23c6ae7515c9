//! Campaign pages as apalis tasks: one task sends one page of a campaign's audience
//! (see [`herald_core::campaigns::pages`]), so a campaign of a million recipients is a
//! thousand tasks. The job queue (apalis-postgres or apalis-sqlite, in Herald's own
//! database) registers each worker, keeps its heartbeat, and gives the tasks of a
//! worker that went silent to another, which runs the page again with the same
//! idempotency keys. On shutdown a worker takes no new task and finishes those it has.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use chrono::Utc;
use herald_core::campaigns::pages::{handed_over, to_hand_over};
use herald_core::config::{DeliveryConfig, MISSED_HEARTBEATS};
use sea_orm::{DatabaseConnection, DbBackend};
use serde::{Deserialize, Serialize};

use crate::WorkerError;
use crate::loops::Current;

/// The queue's name, fixed here: apalis would otherwise name it after the Rust type.
pub const QUEUE: &str = "herald.pages";
/// Pages handed to the queue per round.
const HAND_OVER_PER_ROUND: u64 = 1_000;

/// Send page `page_id` of a campaign.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PageTask {
    pub page_id: i64,
}

/// Where page tasks are stored: the database Herald runs on.
#[derive(Clone)]
pub enum PageQueue {
    Postgres(PostgresStorage<PageTask>),
    Sqlite(SqliteStorage<PageTask>),
}

impl PageQueue {
    pub fn new(db: &DatabaseConnection, config: &DeliveryConfig) -> Result<Self, WorkerError> {
        let heartbeat = Duration::from_secs(config.heartbeat_secs);
        let batch = config.batches_in_flight;
        match db.get_database_backend() {
            DbBackend::Postgres => {
                let config = apalis_postgres::Config::default()
                    .queue(QUEUE)
                    .batch_size(batch)
                    .heartbeat_interval(heartbeat)
                    .missed_heartbeats(MISSED_HEARTBEATS as usize);
                Ok(Self::Postgres(
                    PostgresStorage::new(db.get_postgres_connection_pool()).with_config(config),
                ))
            }
            DbBackend::Sqlite => {
                let config = apalis_sqlite::Config::default()
                    .queue(QUEUE)
                    .batch_size(batch)
                    .heartbeat_interval(heartbeat)
                    .missed_heartbeats(MISSED_HEARTBEATS as usize);
                Ok(Self::Sqlite(
                    SqliteStorage::new(db.get_sqlite_connection_pool()).with_config(config),
                ))
            }
            other => Err(WorkerError::Storage(format!(
                "unsupported database {other:?}"
            ))),
        }
    }

    pub async fn push(&mut self, tasks: Vec<PageTask>) -> Result<(), WorkerError> {
        let failed = |e: &dyn std::fmt::Display| WorkerError::Run(e.to_string());
        match self {
            Self::Postgres(storage) => storage.push_bulk(tasks).await.map_err(|e| failed(&e)),
            Self::Sqlite(storage) => storage.push_bulk(tasks).await.map_err(|e| failed(&e)),
        }
    }

    /// Hands the pages waiting for it (new ones, and those whose task was lost) to the
    /// queue; returns how many.
    pub async fn hand_over(&mut self, db: &DatabaseConnection) -> Result<u64, WorkerError> {
        let failed = |e: herald_core::Error| WorkerError::Run(e.to_string());
        let now = Utc::now();
        let pages = to_hand_over(db, now, HAND_OVER_PER_ROUND)
            .await
            .map_err(failed)?;
        if pages.is_empty() {
            return Ok(0);
        }
        let ids: Vec<i64> = pages.iter().map(|p| p.id).collect();
        // Pushed first, noted after: a crash in between hands a page over twice, and
        // the page's claim lets one task run it at a time.
        self.push(ids.iter().map(|&page_id| PageTask { page_id }).collect())
            .await?;
        handed_over(db, &ids, now).await.map_err(failed)?;
        Ok(ids.len() as u64)
    }

    /// Runs page tasks, `concurrency` at once, until `shutdown` completes; then takes
    /// no new task and finishes those in hand.
    pub async fn run(
        self,
        current: Arc<Current>,
        concurrency: usize,
        poll: Duration,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), WorkerError> {
        // Unique among the job queue's live workers, also when one process runs several
        // (the tests do, to plan side by side).
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let nth = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = match nth {
            0 => format!("pages-{}", process_name()),
            _ => format!("pages-{}-{nth}", process_name()),
        };
        let stop = async move {
            shutdown.await;
            Ok::<(), std::io::Error>(())
        };
        let ran = match self {
            Self::Postgres(storage) => {
                WorkerBuilder::new(name)
                    .backend(storage.with_pubsub().poll_with_interval(poll))
                    .data(current)
                    .enable_tracing()
                    .concurrency(concurrency)
                    .build(run_page)
                    .run_until(stop)
                    .await
            }
            Self::Sqlite(storage) => {
                WorkerBuilder::new(name)
                    .backend(storage.poll_with_interval(poll))
                    .data(current)
                    .enable_tracing()
                    .concurrency(concurrency)
                    .build(run_page)
                    .run_until(stop)
                    .await
            }
        };
        ran.map_err(|e| WorkerError::Run(e.to_string()))
    }
}

/// Page tasks in the job queue by status (apalis' own names), for the metrics.
pub async fn task_counts(db: &DatabaseConnection) -> Result<Vec<(String, i64)>, sea_orm::DbErr> {
    use sea_orm::{ConnectionTrait, Statement};
    let backend = db.get_database_backend();
    let statement = match backend {
        DbBackend::Postgres => Statement::from_sql_and_values(
            backend,
            "SELECT status, COUNT(*) AS n FROM apalis.jobs WHERE job_type = $1 GROUP BY status",
            [QUEUE.into()],
        ),
        _ => Statement::from_sql_and_values(
            backend,
            "SELECT status, COUNT(*) AS n FROM Jobs WHERE job_type = ? GROUP BY status",
            [QUEUE.into()],
        ),
    };
    db.query_all_raw(statement)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("", "status")?, row.try_get("", "n")?)))
        .collect()
}

/// One page task. An error (the database away, no channel instances loaded yet) fails
/// the task, and the queue runs it again.
async fn run_page(
    task: PageTask,
    id: TaskId,
    current: Data<Arc<Current>>,
) -> Result<(), BoxDynError> {
    let deliverer = current
        .get()
        .await
        .ok_or("the channel instances could not be loaded")?;
    // The page runs as a task of its own: the job queue's worker polls the pages in
    // flight from one future, so they would otherwise share one thread.
    let (page_id, task_id) = (task.page_id, id.to_string());
    let ran = tokio::spawn(async move { deliverer.run_page(page_id, &task_id, Utc::now()).await });
    match ran.await?? {
        Some(recorded) => tracing::debug!(page = task.page_id, ?recorded, "page done"),
        None => tracing::debug!(page = task.page_id, "page held by another task, or done"),
    }
    Ok(())
}

/// This process as other workers see it: host and process id.
pub(crate) fn process_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".to_owned());
    format!("{host}-{}", std::process::id())
}
