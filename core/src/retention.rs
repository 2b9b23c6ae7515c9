//! The delivery log is kept for `retention.delivery_log_days`: older finished
//! deliveries are deleted with their attempts, a bounded chunk at a time, and their
//! counts are added to `delivery_totals`, which the reports read beside the log (see
//! [`crate::reports`]). A shared inbox item's entries (see [`crate::deliveries::shared`])
//! are added to the totals the same way, and the item, still in its recipients'
//! inboxes, logs nothing more. Transactional messages left without deliveries go too.
//!
//! Chunks walk the log in id order from its oldest row, which needs no index beyond the
//! primary key: ids grow with creation time, so a pass stops at the first chunk that
//! reaches past the cutoff. Several workers may prune at once: on Postgres a chunk is
//! deleted and counted by one statement (a row another worker deleted first is neither
//! deleted nor counted again); on SQLite the chunk's transaction holds the write lock.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, QueryResult, Statement, Value};

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
    let rows = walk(db, "deliveries WHERE", batch, cutoff, |after, last| {
        prune_chunk(db, after, last, cutoff)
    })
    .await?;
    // The shared entries of items still in inboxes: counted into the totals, and the
    // items stay (they are what their recipients' inboxes show).
    let shared = walk(db, LOGGING_ITEMS, batch, cutoff, |after, last| {
        prune_shared(db, after, last, cutoff)
    })
    .await?;
    // Messages the same way, so a table of millions of sends is never scanned whole.
    let messages = walk(db, "messages WHERE", batch, cutoff, |after, last| {
        prune_messages(db, after, last, cutoff)
    })
    .await?;
    let event_batches = crate::events::batches::prune(db, cutoff, config.batch_size).await?;
    Ok(Pruned {
        deliveries: rows + shared,
        messages,
        event_batches,
    })
}

/// The shared items whose share bits are log entries (see
/// [`crate::deliveries::shared`]), walked through their partial index.
const LOGGING_ITEMS: &str = "inbox_items WHERE logged_recipients > 0 AND";

/// Walks `rows` (a table and the start of its `WHERE`, ready for one more condition) in
/// chunks of `batch` ids from its oldest row, calling `prune` with each
/// chunk's bounds (after, last], until a chunk reaches past `cutoff` or
/// [`CHUNKS_PER_PASS`] have been pruned. Returns what `prune` removed.
async fn walk<F, Fut>(
    db: &DatabaseConnection,
    rows: &'static str,
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
        let Some((last, last_created)) = chunk_end(db, rows, after, batch).await? else {
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

/// The id and creation time of the last of the next `batch` of `rows` (deliveries,
/// messages or [`LOGGING_ITEMS`]) after id `after`.
async fn chunk_end(
    db: &DatabaseConnection,
    rows: &'static str,
    after: i64,
    batch: i64,
) -> Result<Option<(i64, DateTime<Utc>)>> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(statement(
            backend,
            &format!(
                "SELECT id, created_at FROM \
                   (SELECT id, created_at FROM {rows} id > $1 ORDER BY id LIMIT $2) chunk \
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
        return count_in(row, "pruned");
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
/// before `cutoff`, that no delivery or shared entry refers to any more (their
/// idempotency keys go with them).
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
               AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = messages.id) \
               AND NOT EXISTS (SELECT 1 FROM inbox_items i \
                 WHERE i.message_id = messages.id AND i.logged_recipients > 0)",
            vec![after.into(), last.into(), cutoff.into()],
        ))
        .await?
        .rows_affected())
}

/// Adds the shared entries of logging items among ids `after` (exclusive) to `last`,
/// created before `cutoff`, to the totals and makes those items log nothing,
/// atomically. Returns how many entries moved.
async fn prune_shared(
    db: &DatabaseConnection,
    after: i64,
    last: i64,
    cutoff: DateTime<Utc>,
) -> Result<u64> {
    let backend = db.get_database_backend();
    let values = || vec![after.into(), last.into(), cutoff.into()];
    let chunk = "inbox_items.id > $1 AND inbox_items.id <= $2 \
                 AND inbox_items.created_at < $3 AND inbox_items.logged_recipients > 0";
    if backend == DbBackend::Postgres {
        // Locked first: a worker pruning the same chunk waits, then finds none left.
        let sql = format!(
            "WITH old AS (SELECT id, logged_recipients, created_at, message_id \
               FROM inbox_items WHERE {chunk} FOR UPDATE), \
             moved AS (UPDATE inbox_items SET logged_recipients = 0 FROM old \
               WHERE inbox_items.id = old.id \
               RETURNING old.logged_recipients, old.created_at, old.message_id), \
             counted AS ({}) \
             SELECT CAST(COALESCE(SUM(logged_recipients), 0) AS BIGINT) AS moved FROM moved",
            add_shared_to_totals(backend, "moved AS inbox_items", "true")
        );
        let row = db.query_one_raw(statement(backend, &sql, values())).await?;
        return count_in(row, "moved");
    }
    let txn = begin_write(db).await?;
    let counted = txn
        .query_one_raw(statement(
            backend,
            &format!(
                "SELECT CAST(COALESCE(SUM(logged_recipients), 0) AS BIGINT) AS moved \
                 FROM inbox_items WHERE {chunk}"
            ),
            values(),
        ))
        .await?;
    let moved = count_in(counted, "moved")?;
    txn.execute_raw(statement(
        backend,
        &add_shared_to_totals(backend, "inbox_items", chunk),
        values(),
    ))
    .await?;
    txn.execute_raw(statement(
        backend,
        &format!("UPDATE inbox_items SET logged_recipients = 0 WHERE {chunk}"),
        values(),
    ))
    .await?;
    txn.commit().await?;
    Ok(moved)
}

/// The count in `column` of the one row a statement answered (none counts 0).
fn count_in(row: Option<QueryResult>, column: &str) -> Result<u64> {
    let count: i64 = match row {
        Some(row) => row.try_get("", column)?,
        None => 0,
    };
    Ok(count.max(0) as u64)
}

/// Adds the shared entries of the items of `source` that meet `condition` to the
/// totals: delivered inbox deliveries of the item's message on the item's day.
fn add_shared_to_totals(backend: DbBackend, source: &str, condition: &str) -> String {
    let day = crate::reports::shared::day_of_item_sql(backend);
    format!(
        "INSERT INTO delivery_totals (day, campaign_id, channel, status, filter, rule_id, count, sent) \
         SELECT {day}, COALESCE(messages.campaign_id, 0), '{channel}', '{status}', '', 0, \
                SUM(inbox_items.logged_recipients), SUM(inbox_items.logged_recipients) \
         FROM {source} LEFT JOIN messages ON messages.id = inbox_items.message_id \
         WHERE {condition} \
         GROUP BY 1, 2 \
         ON CONFLICT (day, campaign_id, channel, status, filter, rule_id) DO UPDATE \
         SET count = delivery_totals.count + excluded.count, \
             sent = delivery_totals.sent + excluded.sent",
        channel = crate::channel::ChannelKind::Inbox.as_str(),
        status = DeliveryStatus::Delivered.as_str(),
    )
}
