//! The delivery queue in the deliveries table itself: workers claim due rows with a
//! lease, send, and record each attempt's outcome. A worker that dies holding a claim
//! loses nothing: when the lease runs out the row is due again.

use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_channels::DeliveryOutcome;
use rand::Rng;
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, EntityTrait, Statement, TransactionSession,
    TransactionTrait, Value,
};

use crate::bulk::insert_all;
use crate::config::DeliveryConfig;
use crate::db::is_postgres;
use crate::entities::{delivery, delivery_attempt};
use crate::error::Result;
use crate::events::{EventType, Occurred};
use crate::halts::{ALL_HALTED, Halts};

/// Messages of paused or cancelled campaigns, or of campaigns the kill switch stopped:
/// their deliveries are not sent.
pub(crate) const HELD_MESSAGES: &str = "SELECT m.id FROM messages m JOIN campaigns c ON c.id = m.campaign_id \
     WHERE c.status IN ('paused', 'cancelled') \
     OR c.id IN (SELECT target_id FROM halts WHERE scope = 'campaign')";

/// Rows per statement when recording: under SQLite's parameter limit.
pub(crate) const RECORD_CHUNK: usize = 1_000;

/// The longest a queue statement may run on Postgres before it is cancelled: a claim
/// or a recording that takes longer is stuck (a bad plan, a lock wait), and failing it
/// lets the worker's next round try again instead of holding locks for hours.
pub const QUEUE_STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);

/// The columns a claim returns, those of [`delivery::Model`].
const CLAIMED_COLUMNS: &str = "id, message_id, subscriber_id, channel, endpoint_id, status, filter, rule_id, \
     list_entry_id, reason, not_before, attempts, first_attempt_at, first_attempt_ms, \
     first_attempt_detail, created_at, updated_at";

/// Claims up to `limit` due deliveries: queued ones whose time has come, and claimed
/// ones whose lease ran out. Each claim counts as an attempt and holds a lease until
/// `now + lease`. Nothing is claimed while all sending is stopped, nor what goes
/// through a channel instance `halts` holds stopped.
///
/// On Postgres the rows are picked and locked once, in a materialised CTE, skipping
/// rows another transaction holds (a worker claiming or recording them), and then
/// updated by id. The picking must not sit in the UPDATE's own `WHERE … IN (…)`: a row
/// another transaction changed after the statement's snapshot sends the UPDATE into
/// EvalPlanQual re-checks that run that sub-select (its lock, sort and limit) again,
/// row after row, which at 200,000 rows held a claim for over an hour while the
/// recording it blocked waited. The statement is also bounded in time.
pub async fn claim_due(
    db: &(impl ConnectionTrait + TransactionTrait),
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
    halts: &Halts,
) -> Result<Vec<delivery::Model>> {
    let lease_end = now + chrono::Duration::from_std(lease).unwrap_or_default();
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let stopped = halts.claim_filter();
    let mut claimed = if is_postgres(db) {
        let sql = postgres_claim_sql(limit, &stopped);
        let statement = Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [now.into(), lease_end.into()],
        );
        let txn = db.begin().await?;
        claim_settings(&txn).await?;
        let claimed = delivery::Entity::find()
            .from_raw_sql(statement)
            .all(&txn)
            .await?;
        txn.commit().await?;
        claimed
    } else {
        // One writer at a time: nothing to skip, and nothing re-checks. The limit is a
        // literal here too: SQLite re-prepares a statement with a bound LIMIT.
        let sql = format!(
            "UPDATE deliveries SET status = 'sending', attempts = attempts + 1, \
                 not_before = ?, updated_at = ? \
             WHERE id IN (SELECT id FROM deliveries \
                 WHERE status IN ('queued', 'sending') AND (not_before IS NULL OR not_before <= ?) \
                 AND message_id NOT IN ({HELD_MESSAGES}) \
                 AND NOT {ALL_HALTED}{stopped} \
                 ORDER BY id LIMIT {limit}) \
             RETURNING {CLAIMED_COLUMNS}"
        );
        let statement = Statement::from_sql_and_values(
            DbBackend::Sqlite,
            sql,
            [lease_end.into(), now.into(), now.into()],
        );
        delivery::Entity::find()
            .from_raw_sql(statement)
            .all(db)
            .await?
    };
    claimed.sort_by_key(|d| d.id);
    Ok(claimed)
}

/// The Postgres claim for batches of `limit`, leaving out what `stopped` (a
/// [`Halts::claim_filter`]) matches; `$1` is now, `$2` the lease's end.
///
/// The limit is written into the statement, not bound: a prepared statement's generic
/// plan cannot see a bound limit and assumes 10,000 rows, and for that it joins the
/// picked ids against a scan of the whole table. That plan (a hash semi-join over a
/// sequential scan, in the earlier `IN (…)` form) made each claim cost a pass over
/// every delivery, and under concurrent recordings it ran for over an hour. With the
/// literal, and the picked ids handed over as one array (`id = ANY(…)` can only be an
/// index condition), every plan looks them up by primary key; a join against the
/// picked rows, planned while the log looked empty, walked the whole primary key.
pub fn postgres_claim_sql(limit: i64, stopped: &str) -> String {
    format!(
        "WITH picked AS MATERIALIZED ( \
             SELECT id FROM deliveries \
             WHERE status IN ('queued', 'sending') \
                 AND (not_before IS NULL OR not_before <= $1) \
                 AND message_id NOT IN ({HELD_MESSAGES}) \
                 AND NOT {ALL_HALTED}{stopped} \
             ORDER BY id LIMIT {limit} FOR UPDATE SKIP LOCKED) \
         UPDATE deliveries d SET status = 'sending', attempts = d.attempts + 1, \
             not_before = $2, updated_at = $1 \
         WHERE d.id = ANY(ARRAY(SELECT id FROM picked)) \
         RETURNING {}",
        qualified(CLAIMED_COLUMNS, "d")
    )
}

/// `columns` (comma-separated) each prefixed with `table.`.
fn qualified(columns: &str, table: &str) -> String {
    columns
        .split(',')
        .map(|column| format!("{table}.{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Postgres: the settings a claim's transaction runs under. Its statements may take no
/// longer than the queue's timeout, and may not read the delivery log sequentially: the
/// claim needs only the small indexes of unfinished deliveries, but a plan made while
/// the statistics said the log was empty (the first campaign after an install, before
/// autovacuum analyses it) scanned every row, twice, on each idle poll: 25 to 60 ms
/// each at a million rows.
pub async fn claim_settings(txn: &impl ConnectionTrait) -> Result<()> {
    limit_statement_time(txn, QUEUE_STATEMENT_TIMEOUT).await?;
    if is_postgres(txn) {
        txn.execute_unprepared("SET LOCAL enable_seqscan = off")
            .await?;
    }
    Ok(())
}

/// Postgres: cancels any statement of this transaction that runs longer than `limit`.
pub(crate) async fn limit_statement_time(
    txn: &impl ConnectionTrait,
    limit: Duration,
) -> Result<()> {
    if is_postgres(txn) {
        // SET takes no parameters; the number is ours.
        let sql = format!("SET LOCAL statement_timeout = {}", limit.as_millis());
        txn.execute_unprepared(&sql).await?;
    }
    Ok(())
}

/// When to try again, from the configured schedule and jitter.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    schedule: Vec<Duration>,
    jitter: f64,
}

impl RetryPolicy {
    pub fn from_config(config: &DeliveryConfig) -> Self {
        Self {
            schedule: config
                .retry_schedule_secs
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
            jitter: config.retry_jitter,
        }
    }

    /// After `attempts` tries, when the next may start; `None` when retries are spent.
    /// A plugin's retry-after is honoured when it asks for longer, up to the schedule's
    /// longest wait: a receiver cannot park a delivery for years (or overflow the
    /// clock) by answering `Retry-After: 99999999999`.
    pub fn next_try(
        &self,
        attempts: i32,
        retry_after: Option<Duration>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
        let base = *self.schedule.get(index)?;
        let longest = self.schedule.iter().max().copied().unwrap_or_default();
        let factor = 1.0 + rand::rng().random_range(-self.jitter..=self.jitter);
        let wait = Duration::try_from_secs_f64(base.as_secs_f64() * factor.max(0.0))
            .unwrap_or(base)
            .max(retry_after.unwrap_or_default().min(longest));
        let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
        // Past the end of the calendar is as good as never: a dead letter, not a panic.
        now.checked_add_signed(wait)
    }
}

/// One try at a delivery and what the plugin said.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub delivery: delivery::Model,
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    pub outcome: DeliveryOutcome,
}

/// A delivery's next state.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Change {
    pub id: i64,
    pub status: &'static str,
    pub not_before: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub filter: Option<&'static str>,
    pub rule_id: Option<i64>,
    pub list_entry_id: Option<i64>,
    /// The endpoint it now goes to; `None` keeps the one it has.
    pub endpoint_id: Option<i64>,
}

/// What one round of the worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    pub delivered: u64,
    pub retrying: u64,
    pub failed: u64,
    pub dead: u64,
    /// Deliveries planned for running campaigns.
    pub planned: u64,
    /// Deferred deliveries decided again.
    pub reconsidered: u64,
    /// Deliveries ended because their message expired.
    pub expired: u64,
    /// Deliveries a keyword rule held back once their content was rendered.
    pub held: u64,
    /// Deliveries their lane's pacing put off to a later slot, unattempted.
    pub paced: u64,
    /// Deliveries the kill switch held back before they were sent: they wait queued.
    pub stopped: u64,
}

fn outcome_row(outcome: &DeliveryOutcome) -> (&'static str, String) {
    match outcome {
        DeliveryOutcome::Delivered {
            provider_message_id,
            response,
        } => (
            "delivered",
            match provider_message_id {
                Some(id) => format!("{id}: {response}"),
                None => response.clone(),
            },
        ),
        DeliveryOutcome::Retryable { reason, .. } => ("retryable", reason.clone()),
        DeliveryOutcome::Permanent { reason, .. } => ("permanent", reason.clone()),
    }
}

/// The delivery log's row for one attempt.
pub(crate) fn attempt_row(attempt: &Attempt) -> delivery_attempt::ActiveModel {
    let (outcome, detail) = outcome_row(&attempt.outcome);
    delivery_attempt::ActiveModel {
        delivery_id: sea_orm::ActiveValue::Set(attempt.delivery.id),
        attempt: sea_orm::ActiveValue::Set(attempt.delivery.attempts),
        started_at: sea_orm::ActiveValue::Set(attempt.started_at),
        duration_ms: sea_orm::ActiveValue::Set(
            i32::try_from(attempt.duration.as_millis()).unwrap_or(i32::MAX),
        ),
        outcome: sea_orm::ActiveValue::Set(outcome.to_owned()),
        detail: sea_orm::ActiveValue::Set(detail),
        ..Default::default()
    }
}

/// Writes the attempts and moves each delivery on: delivered; queued again after a
/// backoff; failed (permanent); or dead (retries spent). All in one transaction, in
/// multi-row statements.
pub async fn record(
    db: &impl TransactionTrait,
    attempts: Vec<Attempt>,
    policy: &RetryPolicy,
    now: DateTime<Utc>,
) -> Result<Recorded> {
    let mut recorded = Recorded::default();
    let mut rows = Vec::with_capacity(attempts.len());
    let mut changes: Vec<Change> = Vec::with_capacity(attempts.len());
    let mut occurred = Vec::new();
    for attempt in &attempts {
        rows.push(attempt_row(attempt));
        let detail = outcome_row(&attempt.outcome).1;
        let (change, event) = match &attempt.outcome {
            DeliveryOutcome::Delivered { .. } => {
                recorded.delivered += 1;
                (("delivered", None, None), Some(EventType::Delivered))
            }
            DeliveryOutcome::Permanent { .. } => {
                recorded.failed += 1;
                (
                    ("failed", None, Some(detail.clone())),
                    Some(EventType::Failed),
                )
            }
            DeliveryOutcome::Retryable { retry_after, .. } => {
                match policy.next_try(attempt.delivery.attempts, *retry_after, now) {
                    Some(at) => {
                        recorded.retrying += 1;
                        (("queued", Some(at), Some(detail.clone())), None)
                    }
                    None => {
                        recorded.dead += 1;
                        (
                            ("dead", None, Some(detail.clone())),
                            Some(EventType::DeadLettered),
                        )
                    }
                }
            }
        };
        if let Some(event) = event {
            let sent = &attempt.delivery;
            occurred.push(Occurred::outcome(
                event,
                sent.message_id,
                sent.subscriber_id,
                &sent.channel,
                &detail,
            ));
        }
        changes.push(Change {
            id: attempt.delivery.id,
            status: change.0,
            not_before: change.1,
            reason: change.2,
            filter: None,
            rule_id: attempt.delivery.rule_id,
            list_entry_id: attempt.delivery.list_entry_id,
            endpoint_id: None,
        });
    }

    let txn = crate::db::begin_write(db).await?;
    limit_statement_time(&txn, QUEUE_STATEMENT_TIMEOUT).await?;
    insert_all(&txn, rows, &[]).await?;
    for chunk in changes.chunks(RECORD_CHUNK) {
        update_each(&txn, chunk, now).await?;
    }
    crate::events::outbox::emit(&txn, &occurred, now).await?;
    txn.commit().await?;
    Ok(recorded)
}

/// Sets each row's status, `not_before`, reason, filter, rule and list entry in one
/// statement: Postgres reads the rows from one JSON parameter (see [`crate::bulk`]),
/// SQLite from `UPDATE … FROM (VALUES …)`.
pub(crate) async fn update_each(
    txn: &impl ConnectionTrait,
    rows: &[Change],
    now: DateTime<Utc>,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    let statement = if backend == DbBackend::Postgres {
        let json = serde_json::to_string(rows).map_err(|e| DbErr::Custom(e.to_string()))?;
        Statement::from_sql_and_values(
            backend,
            "UPDATE deliveries SET status = u.status, not_before = u.not_before, \
                 reason = u.reason, rule_id = u.rule_id, list_entry_id = u.list_entry_id, \
                 filter = u.filter, \
                 endpoint_id = COALESCE(u.endpoint_id, deliveries.endpoint_id), updated_at = $2 \
             FROM json_to_recordset($1::json) AS u(id bigint, status text, \
                 not_before timestamptz, reason text, filter text, rule_id bigint, \
                 list_entry_id bigint, endpoint_id bigint) \
             WHERE deliveries.id = u.id",
            [Value::from(json), now.into()],
        )
    } else {
        let mut values: Vec<Value> = vec![now.into()];
        let mut tuples = Vec::with_capacity(rows.len());
        for row in rows {
            tuples.push("(?, ?, ?, ?, ?, ?, ?, ?)");
            values.push(row.id.into());
            values.push(row.status.into());
            values.push(row.not_before.into());
            values.push(row.reason.clone().into());
            values.push(row.rule_id.into());
            values.push(row.list_entry_id.into());
            values.push(row.filter.into());
            values.push(row.endpoint_id.into());
        }
        let sql = format!(
            "UPDATE deliveries SET status = u.column2, not_before = u.column3, reason = u.column4, \
                 rule_id = u.column5, list_entry_id = u.column6, filter = u.column7, \
                 endpoint_id = COALESCE(u.column8, deliveries.endpoint_id), updated_at = ? \
             FROM (VALUES {}) AS u WHERE deliveries.id = u.column1",
            tuples.join(", ")
        );
        Statement::from_sql_and_values(backend, sql, values)
    };
    txn.execute_raw(statement).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            schedule: vec![Duration::from_secs(10), Duration::from_secs(100)],
            jitter: 0.2,
        }
    }

    #[test]
    fn waits_follow_the_schedule_within_the_jitter_then_stop() {
        let now = Utc::now();
        for _ in 0..200 {
            let first = policy().next_try(1, None, now).unwrap() - now;
            assert!(
                (8_000..=12_000).contains(&first.num_milliseconds()),
                "{first}"
            );
            let second = policy().next_try(2, None, now).unwrap() - now;
            assert!(
                (80_000..=120_000).contains(&second.num_milliseconds()),
                "{second}"
            );
        }
        assert_eq!(policy().next_try(3, None, now), None, "retries spent: dead");
        assert_eq!(policy().next_try(0, None, now), None);
    }

    #[test]
    fn a_longer_retry_after_wins_up_to_the_longest_wait_of_the_schedule() {
        let now = Utc::now();
        let wait = policy()
            .next_try(1, Some(Duration::from_secs(50)), now)
            .unwrap();
        assert_eq!(wait - now, chrono::Duration::seconds(50));
        for asked in [3600, 99_999_999_999, u64::MAX] {
            let wait = policy()
                .next_try(1, Some(Duration::from_secs(asked)), now)
                .unwrap();
            assert_eq!(wait - now, chrono::Duration::seconds(100), "{asked}");
        }
        let wait = policy().next_try(1, Some(Duration::MAX), now).unwrap();
        assert_eq!(wait - now, chrono::Duration::seconds(100));
    }

    #[test]
    fn a_wait_past_the_end_of_the_calendar_is_no_next_try_not_a_panic() {
        let policy = RetryPolicy {
            schedule: vec![Duration::from_secs(u64::MAX)],
            jitter: 0.2,
        };
        assert_eq!(policy.next_try(1, None, Utc::now()), None);
    }
}
