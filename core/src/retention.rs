//! The delivery log is kept for `retention.delivery_log_days`: older finished
//! deliveries are deleted with their attempts, a bounded chunk at a time, and their
//! counts are added to `delivery_totals`, which the reports read beside the log (see
//! [`crate::reports`]). Transactional messages left without deliveries go too.
//!
//! Chunks walk the log in id order from its oldest row, which needs no index beyond the
//! primary key: ids grow with creation time, so a pass stops at the first chunk that
//! reaches past the cutoff. Several workers may prune at once: on Postgres a chunk is
//! deleted and counted by one statement (a row another worker deleted first is neither
//! deleted nor counted again); on SQLite the chunk's transaction holds the write lock.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};

use crate::config::RetentionConfig;
use crate::db::begin_write;
use crate::deliveries::DeliveryStatus;
use crate::error::Result;
use crate::reports::group::day_of_creation_sql;

/// Chunks one pass may prune: a pass stays short, and the next one (a minute later)
/// goes on.
const CHUNKS_PER_PASS: usize = 20;

/// What one pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub deliveries: u64,
    pub messages: u64,
    /// Delivered batches of delivery events to products.
    pub event_batches: u64,
}

/// Prunes what is older than the retention period at `now`, at most
/// [`CHUNKS_PER_PASS`] chunks of `batch_size` deliveries.
pub async fn prune(
    db: &DatabaseConnection,
    config: &RetentionConfig,
    now: DateTime<Utc>,
) -> Result<Pruned> {
    if config.delivery_log_days == 0 {
        return Ok(Pruned::default());
    }
    let cutoff = now - Duration::days(i64::from(config.delivery_log_days));
    let batch = i64::try_from(config.batch_size).unwrap_or(i64::MAX);
    let deliveries = walk(db, "deliveries", batch, cutoff, |after, last| {
        prune_chunk(db, after, last, cutoff)
    })
    .await?;
    // Messages the same way, so a table of millions of sends is never scanned whole.
    let messages = walk(db, "messages", batch, cutoff, |after, last| {
        prune_messages(db, after, last, cutoff)
    })
    .await?;
    let event_batches = crate::events::batches::prune(db, cutoff, config.batch_size).await?;
    Ok(Pruned {
        deliveries,
        messages,
        event_batches,
    })
}

/// Walks `table` in chunks of `batch` ids from its oldest row, calling `prune` with each
/// chunk's bounds (after, last], until a chunk reaches past `cutoff` or
/// [`CHUNKS_PER_PASS`] have been pruned. Returns what `prune` removed.
async fn walk<F, Fut>(
    db: &DatabaseConnection,
    table: &'static str,
    batch: i64,
    cutoff: DateTime<Utc>,
    mut prune: F,
) -> Result<u64>
where
    F: FnMut(i64, i64) -> Fut,
    Fut: std::future::Future<Output = Result<u64>>,
{
    let (mut after, mut removed) = (0, 0);
    for _ in 0..CHUNKS_PER_PASS {
        let Some((last, last_created)) = chunk_end(db, table, after, batch).await? else {
            break;
        };
        removed += prune(after, last).await?;
        if last_created >= cutoff {
            break;
        }
        after = last;
    }
    Ok(removed)
}

/// `sql` for `backend`: written with `$1`, `$2`… (Postgres), which SQLite reads as
/// `?1`, `?2`….
fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Postgres => sql.to_owned(),
        _ => sql.replace('$', "?"),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// The id and creation time of the last of the next `batch` rows of `table`
/// (`deliveries` or `messages`) after id `after`.
async fn chunk_end(
    db: &DatabaseConnection,
    table: &'static str,
    after: i64,
    batch: i64,
) -> Result<Option<(i64, DateTime<Utc>)>> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(statement(
            backend,
            &format!(
                "SELECT id, created_at FROM \
                   (SELECT id, created_at FROM {table} WHERE id > $1 ORDER BY id LIMIT $2) chunk \
                 ORDER BY id DESC LIMIT 1"
            ),
            vec![after.into(), batch.into()],
        ))
        .await?;
    Ok(match row {
        Some(row) => Some((row.try_get("", "id")?, row.try_get("", "created_at")?)),
        None => None,
    })
}

/// The finished deliveries among ids `after` (exclusive) to `last`, created before
/// `cutoff`: `$1`, `$2`, `$3`.
fn prunable() -> String {
    let finished: Vec<String> = DeliveryStatus::ALL
        .into_iter()
        .filter(|status| status.is_final())
        .map(|status| format!("'{}'", status.as_str()))
        .collect();
    format!(
        "deliveries.id > $1 AND deliveries.id <= $2 AND deliveries.created_at < $3 \
         AND deliveries.status IN ({})",
        finished.join(", ")
    )
}

/// Adds the counts of the rows of `source` that meet `condition` to the totals; `source`
/// has the columns of `deliveries` and is named `deliveries`.
fn add_to_totals(backend: DbBackend, source: &str, condition: &str) -> String {
    let day = day_of_creation_sql(backend);
    format!(
        "INSERT INTO delivery_totals (day, campaign_id, channel, status, filter, rule_id, count, sent) \
         SELECT {day}, COALESCE(messages.campaign_id, 0), deliveries.channel, deliveries.status, \
                COALESCE(deliveries.filter, ''), COALESCE(deliveries.rule_id, 0), COUNT(*), \
                SUM(CASE WHEN deliveries.attempts > 0 THEN 1 ELSE 0 END) \
         FROM {source} LEFT JOIN messages ON messages.id = deliveries.message_id \
         WHERE {condition} \
         GROUP BY 1, 2, 3, 4, 5, 6 \
         ON CONFLICT (day, campaign_id, channel, status, filter, rule_id) DO UPDATE \
         SET count = delivery_totals.count + excluded.count, \
             sent = delivery_totals.sent + excluded.sent"
    )
}

/// Deletes one chunk's prunable deliveries (their attempts go with them) and counts
/// them into the totals, atomically. Returns how many were deleted.
async fn prune_chunk(
    db: &DatabaseConnection,
    after: i64,
    last: i64,
    cutoff: DateTime<Utc>,
) -> Result<u64> {
    let backend = db.get_database_backend();
    let values = || vec![after.into(), last.into(), cutoff.into()];
    if backend == DbBackend::Postgres {
        // What the DELETE returns is what gets counted: rows another worker deleted
        // first are in neither.
        let sql = format!(
            "WITH pruned AS (DELETE FROM deliveries WHERE {} \
               RETURNING created_at, message_id, channel, status, filter, rule_id, attempts), \
             counted AS ({}) \
             SELECT COUNT(*) AS pruned FROM pruned",
            prunable(),
            add_to_totals(backend, "pruned AS deliveries", "true")
        );
        let row = db.query_one_raw(statement(backend, &sql, values())).await?;
        let pruned: i64 = match row {
            Some(row) => row.try_get("", "pruned")?,
            None => 0,
        };
        return Ok(pruned.max(0) as u64);
    }
    let txn = begin_write(db).await?;
    txn.execute_raw(statement(
        backend,
        &add_to_totals(backend, "deliveries", &prunable()),
        values(),
    ))
    .await?;
    let pruned = txn
        .execute_raw(statement(
            backend,
            &format!("DELETE FROM deliveries WHERE {}", prunable()),
            values(),
        ))
        .await?
        .rows_affected();
    txn.commit().await?;
    Ok(pruned)
}

/// Deletes the transactional messages among ids `after` (exclusive) to `last`, created
/// before `cutoff`, that no delivery refers to any more (their idempotency keys go with
/// them).
async fn prune_messages(
    db: &DatabaseConnection,
    after: i64,
    last: i64,
    cutoff: DateTime<Utc>,
) -> Result<u64> {
    let backend = db.get_database_backend();
    Ok(db
        .execute_raw(statement(
            backend,
            "DELETE FROM messages WHERE id > $1 AND id <= $2 AND campaign_id IS NULL \
               AND created_at < $3 \
               AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = messages.id)",
            vec![after.into(), last.into(), cutoff.into()],
        ))
        .await?
        .rows_affected())
}
