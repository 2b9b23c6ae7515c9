//! The outbox gathered into batches, one signed request each, and their log: due
//! batches are claimed under a lease (a crashed sender's batch is taken over when the
//! lease ends), retried on the delivery schedule, dead when retries run out, and
//! re-driven on request.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use herald_channels::DeliveryOutcome;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement, TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::audit::{self, AuditContext, Change};
use crate::db::{is_postgres, one_of};
use crate::deliveries::RetryPolicy;
use crate::entities::{event_batch, event_endpoint, event_outbox, message, subscriber};
use crate::error::Result;

/// Events in one request at most.
pub const EVENTS_PER_BATCH: usize = 100;
/// Outbox rows one pass gathers at most.
const OUTBOX_PASS: u64 = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    /// Waiting for its first try or a retry.
    Queued,
    /// A sender holds it (until its lease ends).
    Sending,
    Delivered,
    /// Retries ran out, or the receiver refused it for good: re-drive to send again.
    Dead,
}

impl BatchStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Queued => "queued",
            BatchStatus::Sending => "sending",
            BatchStatus::Delivered => "delivered",
            BatchStatus::Dead => "dead",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "sending" => BatchStatus::Sending,
            "delivered" => BatchStatus::Delivered,
            "dead" => BatchStatus::Dead,
            _ => BatchStatus::Queued,
        }
    }
}

/// One batch in the endpoint's log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventBatchOut {
    pub id: i64,
    pub endpoint_id: i64,
    pub status: BatchStatus,
    pub attempts: i32,
    pub event_count: i32,
    /// When it is due (queued) or its sender's lease ends (sending).
    pub not_before: DateTime<Utc>,
    pub last_error: Option<String>,
    /// The receiver's answer to the last try that it accepted.
    pub last_response: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_ms: Option<i32>,
    pub created_at: DateTime<Utc>,
    /// The request body, as signed and sent.
    #[schema(value_type = Object)]
    pub body: Value,
}

fn describe(model: event_batch::Model) -> EventBatchOut {
    EventBatchOut {
        body: serde_json::from_str(&model.payload).unwrap_or(Value::Null),
        id: model.id,
        endpoint_id: model.endpoint_id,
        status: BatchStatus::parse(&model.status),
        attempts: model.attempts,
        event_count: model.event_count,
        not_before: model.not_before,
        last_error: model.last_error,
        last_response: model.last_response,
        last_attempt_at: model.last_attempt_at,
        last_attempt_ms: model.last_attempt_ms,
        created_at: model.created_at,
    }
}

/// The endpoint's batches, newest first, after the cursor `before_id`.
pub async fn list(
    conn: &impl ConnectionTrait,
    endpoint_id: i64,
    status: Option<BatchStatus>,
    before_id: Option<i64>,
    limit: u64,
) -> Result<Vec<EventBatchOut>> {
    super::endpoints::find(conn, endpoint_id).await?;
    let mut query =
        event_batch::Entity::find().filter(event_batch::Column::EndpointId.eq(endpoint_id));
    if let Some(status) = status {
        query = query.filter(event_batch::Column::Status.eq(status.as_str()));
    }
    if let Some(id) = before_id {
        query = query.filter(event_batch::Column::Id.lt(id));
    }
    Ok(query
        .order_by_desc(event_batch::Column::Id)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(describe)
        .collect())
}

/// Puts the endpoint's dead batches back in the queue, due now, with fresh retries.
/// Audited; returns how many.
pub async fn redrive<C>(db: &C, ctx: &AuditContext, endpoint_id: i64) -> Result<u64>
where
    C: ConnectionTrait + TransactionTrait,
{
    let now = Utc::now();
    let txn = crate::db::begin_write(db).await?;
    super::endpoints::find(&txn, endpoint_id).await?;
    let redriven = event_batch::Entity::update_many()
        .col_expr(
            event_batch::Column::Status,
            BatchStatus::Queued.as_str().into(),
        )
        .col_expr(event_batch::Column::Attempts, 0.into())
        .col_expr(event_batch::Column::NotBefore, now.into())
        .col_expr(event_batch::Column::UpdatedAt, now.into())
        .filter(event_batch::Column::EndpointId.eq(endpoint_id))
        .filter(event_batch::Column::Status.eq(BatchStatus::Dead.as_str()))
        .exec(&txn)
        .await?
        .rows_affected;
    audit::record(
        &txn,
        ctx,
        Change {
            action: "event_endpoint.redrive",
            target_kind: "event_endpoint",
            target_id: Some(endpoint_id.to_string()),
            before: None,
            after: Some(json!({ "batches": redriven })),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(redriven)
}

/// Whether there is anything to gather or send at `now`: read without a write lock, so
/// an idle worker's rounds cost two indexed reads.
pub async fn any_work(conn: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<bool> {
    if event_outbox::Entity::find().one(conn).await?.is_some() {
        return Ok(true);
    }
    let due = event_batch::Entity::find()
        .filter(
            event_batch::Column::Status
                .is_in([BatchStatus::Queued.as_str(), BatchStatus::Sending.as_str()]),
        )
        .filter(event_batch::Column::NotBefore.lte(now))
        // As claims see them: a turned-off endpoint's batches wait.
        .filter(
            event_batch::Column::EndpointId.in_subquery(
                Query::select()
                    .column(event_endpoint::Column::Id)
                    .from(event_endpoint::Entity)
                    .and_where(event_endpoint::Column::Enabled.eq(true))
                    .to_owned(),
            ),
        )
        .one(conn)
        .await?;
    Ok(due.is_some())
}

/// Gathers waiting outbox rows into batches of at most [`EVENTS_PER_BATCH`] per
/// endpoint and removes them from the outbox, in one transaction. Workers gathering
/// at once take different rows (Postgres skips locked rows; SQLite has one writer).
/// Returns how many batches were made.
pub async fn gather<C>(db: &C, now: DateTime<Utc>) -> Result<u64>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = crate::db::begin_write(db).await?;
    let mut query = event_outbox::Entity::find()
        .order_by_asc(event_outbox::Column::Id)
        .limit(OUTBOX_PASS);
    if is_postgres(&txn) {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let waiting = query.all(&txn).await?;
    if waiting.is_empty() {
        txn.commit().await?;
        return Ok(0);
    }
    let recipients = external_ids(&txn, &waiting).await?;
    let messages = message_origins(&txn, &waiting).await?;
    let mut by_endpoint: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
    for row in &waiting {
        let event = event_json(row, &recipients, &messages);
        by_endpoint.entry(row.endpoint_id).or_default().push(event);
    }
    let stamp = now.to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut batches = Vec::new();
    for (endpoint_id, events) in by_endpoint {
        for chunk in events.chunks(EVENTS_PER_BATCH) {
            let body = json!({
                "type": "event.batch",
                "timestamp": stamp,
                "data": { "events": chunk },
            });
            batches.push(event_batch::ActiveModel {
                endpoint_id: Set(endpoint_id),
                status: Set(BatchStatus::Queued.as_str().to_owned()),
                attempts: Set(0),
                not_before: Set(now),
                event_count: Set(i32::try_from(chunk.len()).unwrap_or(i32::MAX)),
                payload: Set(body.to_string()),
                last_error: Set(None),
                last_response: Set(None),
                last_attempt_at: Set(None),
                last_attempt_ms: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            });
        }
    }
    let made = batches.len() as u64;
    crate::bulk::insert_all(&txn, batches, &[]).await?;
    let ids: Vec<i64> = waiting.iter().map(|row| row.id).collect();
    for chunk in ids.chunks(1_000) {
        event_outbox::Entity::delete_many()
            .filter(one_of(&txn, event_outbox::Column::Id, chunk.to_vec()))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(made)
}

/// The external ids of the subscribers the rows name (a deleted subscriber's is
/// empty, as in the delivery log).
async fn external_ids(
    conn: &impl ConnectionTrait,
    rows: &[event_outbox::Model],
) -> Result<HashMap<i64, String>> {
    let mut ids: Vec<i64> = rows
        .iter()
        .map(|row| row.subscriber_id)
        .filter(|id| *id > 0)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(1_000) {
        for model in subscriber::Entity::find()
            .filter(one_of(conn, subscriber::Column::Id, chunk.to_vec()))
            .all(conn)
            .await?
        {
            found.insert(model.id, model.external_id);
        }
    }
    Ok(found)
}

/// Each named message's campaign and sender.
async fn message_origins(
    conn: &impl ConnectionTrait,
    rows: &[event_outbox::Model],
) -> Result<HashMap<i64, (Option<i64>, String)>> {
    let mut ids: Vec<i64> = rows.iter().map(|row| row.message_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(1_000) {
        let models: Vec<(i64, Option<i64>, String)> = message::Entity::find()
            .select_only()
            .column(message::Column::Id)
            .column(message::Column::CampaignId)
            .column(message::Column::Sender)
            .filter(one_of(conn, message::Column::Id, chunk.to_vec()))
            .into_tuple()
            .all(conn)
            .await?;
        for (id, campaign_id, sender) in models {
            found.insert(id, (campaign_id, sender));
        }
    }
    Ok(found)
}

fn event_json(
    row: &event_outbox::Model,
    recipients: &HashMap<i64, String>,
    messages: &HashMap<i64, (Option<i64>, String)>,
) -> Value {
    let (campaign_id, sender) = messages
        .get(&row.message_id)
        .map_or((None, None), |(campaign, sender)| (*campaign, Some(sender)));
    let subscriber = recipients
        .get(&row.subscriber_id)
        .filter(|external_id| !external_id.is_empty());
    json!({
        "id": format!("evt_{}", row.id),
        "type": row.event_type,
        "timestamp": row.occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": {
            "message_id": (row.message_id > 0).then_some(row.message_id),
            "campaign_id": campaign_id,
            "sender": sender,
            "subscriber": subscriber,
            "channel": row.channel,
            "detail": row.detail,
        },
    })
}

/// Claims up to `limit` due batches of enabled endpoints, counting the try and
/// leasing each for `lease`.
pub async fn claim<C>(
    db: &C,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
) -> Result<Vec<event_batch::Model>>
where
    C: ConnectionTrait + TransactionTrait,
{
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let backend = db.get_database_backend();
    let sql = if backend == DbBackend::Postgres {
        "UPDATE event_batches SET status = 'sending', attempts = attempts + 1, \
             not_before = $1, updated_at = $2 \
         WHERE id IN (SELECT b.id FROM event_batches b \
             JOIN event_endpoints e ON e.id = b.endpoint_id AND e.enabled \
             WHERE b.status IN ('queued', 'sending') AND b.not_before <= $2 \
             ORDER BY b.not_before, b.id LIMIT $3 FOR UPDATE OF b SKIP LOCKED) \
         RETURNING *"
    } else {
        "UPDATE event_batches SET status = 'sending', attempts = attempts + 1, \
             not_before = ?, updated_at = ? \
         WHERE id IN (SELECT b.id FROM event_batches b \
             JOIN event_endpoints e ON e.id = b.endpoint_id AND e.enabled \
             WHERE b.status IN ('queued', 'sending') AND b.not_before <= ? \
             ORDER BY b.not_before, b.id LIMIT ?) \
         RETURNING *"
    };
    let txn = crate::db::begin_write(db).await?;
    let claimed = event_batch::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            backend,
            sql,
            if backend == DbBackend::Postgres {
                vec![until.into(), now.into(), limit.into()]
            } else {
                vec![until.into(), now.into(), now.into(), limit.into()]
            },
        ))
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok(claimed)
}

/// One try at a batch and what the receiver said.
#[derive(Debug, Clone)]
pub struct Sent {
    pub batch: event_batch::Model,
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    pub outcome: DeliveryOutcome,
}

/// What one round of sending did to the batches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub delivered: u64,
    pub retrying: u64,
    pub dead: u64,
}

/// Records each try: delivered; queued again after the delivery schedule's backoff;
/// or dead. A receiver that answered 410 Gone has its endpoint turned off.
pub async fn record<C>(
    db: &C,
    sent: Vec<Sent>,
    policy: &RetryPolicy,
    now: DateTime<Utc>,
) -> Result<Tally>
where
    C: ConnectionTrait + TransactionTrait,
{
    let mut tally = Tally::default();
    let txn = crate::db::begin_write(db).await?;
    for try_ in sent {
        let millis = i32::try_from(try_.duration.as_millis()).unwrap_or(i32::MAX);
        let (status, not_before, error, response) = match &try_.outcome {
            DeliveryOutcome::Delivered { response, .. } => {
                tally.delivered += 1;
                (BatchStatus::Delivered, now, None, Some(response.clone()))
            }
            DeliveryOutcome::Retryable {
                reason,
                retry_after,
                ..
            } => match policy.next_try(try_.batch.attempts, *retry_after, now) {
                Some(at) => {
                    tally.retrying += 1;
                    (BatchStatus::Queued, at, Some(reason.clone()), None)
                }
                None => {
                    tally.dead += 1;
                    (BatchStatus::Dead, now, Some(reason.clone()), None)
                }
            },
            DeliveryOutcome::Permanent {
                reason,
                endpoint_dead,
            } => {
                tally.dead += 1;
                if *endpoint_dead {
                    super::endpoints::disable_gone(&txn, try_.batch.endpoint_id, reason, now)
                        .await?;
                }
                (BatchStatus::Dead, now, Some(reason.clone()), None)
            }
        };
        let mut update = event_batch::Entity::update_many()
            .col_expr(event_batch::Column::Status, status.as_str().into())
            .col_expr(event_batch::Column::NotBefore, not_before.into())
            .col_expr(event_batch::Column::LastAttemptAt, try_.started_at.into())
            .col_expr(event_batch::Column::LastAttemptMs, millis.into())
            .col_expr(event_batch::Column::LastError, error.into())
            .col_expr(event_batch::Column::UpdatedAt, now.into());
        if response.is_some() {
            update = update.col_expr(event_batch::Column::LastResponse, response.into());
        }
        // A batch whose lease ran out and was taken over is the taker's to record.
        update
            .filter(event_batch::Column::Id.eq(try_.batch.id))
            .filter(event_batch::Column::Attempts.eq(try_.batch.attempts))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(tally)
}

/// Deletes up to `limit` delivered batches created before `cutoff` (the delivery
/// log's retention). Returns how many.
pub async fn prune(conn: &impl ConnectionTrait, cutoff: DateTime<Utc>, limit: u64) -> Result<u64> {
    let ids: Vec<i64> = event_batch::Entity::find()
        .select_only()
        .column(event_batch::Column::Id)
        .filter(event_batch::Column::Status.eq(BatchStatus::Delivered.as_str()))
        .filter(event_batch::Column::CreatedAt.lt(cutoff))
        .order_by_asc(event_batch::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let removed = event_batch::Entity::delete_many()
        .filter(one_of(conn, event_batch::Column::Id, ids))
        .exec(conn)
        .await?
        .rows_affected;
    Ok(removed)
}

/// Batches waiting (queued or being sent) and dead, per endpoint: for metrics.
pub async fn backlog(conn: &impl ConnectionTrait) -> Result<(u64, u64)> {
    let rows: Vec<(String, i64)> = event_batch::Entity::find()
        .select_only()
        .column(event_batch::Column::Status)
        .column_as(Expr::col(event_batch::Column::Id).count(), "n")
        .filter(event_batch::Column::Status.ne(BatchStatus::Delivered.as_str()))
        .group_by(event_batch::Column::Status)
        .into_tuple()
        .all(conn)
        .await?;
    let count = |wanted: &[&str]| {
        rows.iter()
            .filter(|(status, _)| wanted.contains(&status.as_str()))
            .map(|(_, n)| u64::try_from(*n).unwrap_or(0))
            .sum::<u64>()
    };
    Ok((count(&["queued", "sending"]), count(&["dead"])))
}
