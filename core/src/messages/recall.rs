//! Recall: a message withdrawn from the inboxes it reached. Its inbox items become
//! tombstones (out of every list, unread count and resume), each subscriber's unread
//! pair moves to a new version, and their open connections are told which items went;
//! deliveries not made yet are cancelled. What other channels already delivered
//! (email, push, webhook, MQTT) cannot be taken back: the report counts it per channel.
//!
//! A recall can be repeated: it withdraws what is left (nothing, the second time).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Statement,
    TransactionSession, TransactionTrait,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::{self, AuditContext, Change};
use crate::channel::ChannelKind;
use crate::db::is_postgres;
use crate::deliveries::{DeliveryStatus, counts};
use crate::entities::{delivery, message};
use crate::error::{Error, Result};
use crate::events::{EventType, Occurred};
use crate::inbox::pairs::bump;
use crate::inbox::{Bus, Signal, Unread};

/// Subscribers whose unread pairs move per statement.
const STATES_PER_STATEMENT: usize = 5_000;

/// What a recall did.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct RecallOut {
    /// The recalled message (absent: a campaign that never started sending).
    pub message_id: Option<i64>,
    pub recalled_at: Option<DateTime<Utc>>,
    /// Inbox items this recall withdrew: they left their subscribers' inboxes, and
    /// their open connections were told.
    pub withdrawn: u64,
    /// Deliveries not made yet, cancelled, by channel.
    pub cancelled: BTreeMap<String, u64>,
    /// Delivered before the recall on channels that cannot take a message back
    /// (email, push, webhook, MQTT), by channel.
    pub beyond_reach: BTreeMap<String, u64>,
}

/// One withdrawn item: its id, its subscriber, and whether it counted as unread.
struct Withdrawn {
    id: i64,
    subscriber_id: i64,
    unread: bool,
}

/// Recalls message `id`; `sender`, when given, must be the message's sender (an API
/// key recalls only its own sends). Audited as `message.recall`.
pub async fn recall<C>(
    db: &C,
    bus: &Bus,
    ctx: &AuditContext,
    id: i64,
    sender: Option<&str>,
) -> Result<RecallOut>
where
    C: ConnectionTrait + TransactionTrait,
{
    // A repeat reports the same time.
    let now = crate::db::as_stored(Utc::now());
    let txn = crate::db::begin_write(db).await?;
    let mut find = message::Entity::find_by_id(id);
    if is_postgres(&txn) {
        // Two recalls of one message take turns.
        find = find.lock_exclusive();
    }
    let found = find
        .one(&txn)
        .await?
        .filter(|m| sender.is_none_or(|s| m.sender == s))
        .ok_or(Error::NotFound { entity: "message" })?;
    let recalled_at = found.recalled_at.unwrap_or(now);
    if found.recalled_at.is_none() {
        message::Entity::update_many()
            .col_expr(message::Column::RecalledAt, Expr::value(now))
            .filter(message::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        if let Some(campaign) = found.campaign_id {
            crate::entities::campaign::Entity::update_many()
                .col_expr(
                    crate::entities::campaign::Column::RecalledAt,
                    Expr::value(now),
                )
                .filter(crate::entities::campaign::Column::Id.eq(campaign))
                .exec(&txn)
                .await?;
        }
    }
    let cancelled = by_channel(
        &txn,
        id,
        &[DeliveryStatus::Queued, DeliveryStatus::Deferred],
    )
    .await?;
    delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Status,
            Expr::value(DeliveryStatus::Cancelled.as_str()),
        )
        .col_expr(
            delivery::Column::Reason,
            Expr::value("the message was recalled"),
        )
        .col_expr(
            delivery::Column::NotBefore,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
        .filter(delivery::Column::MessageId.eq(id))
        .filter(delivery::Column::Status.is_in([
            DeliveryStatus::Queued.as_str(),
            DeliveryStatus::Deferred.as_str(),
        ]))
        .exec(&txn)
        .await?;
    let mut beyond_reach = by_channel(&txn, id, &[DeliveryStatus::Delivered]).await?;
    beyond_reach.remove(ChannelKind::Inbox.as_str());

    let mut withdrawn = tombstone(&txn, id, now).await?;
    let shared = crate::inbox::shared::withdraw(&txn, id, now).await?;
    withdrawn.extend(shared.into_iter().map(|one| Withdrawn {
        id: one.item_id,
        subscriber_id: one.subscriber_id,
        unread: one.unread,
    }));
    let mut per_subscriber: BTreeMap<i64, (i64, Vec<i64>)> = BTreeMap::new();
    for item in &withdrawn {
        let entry = per_subscriber.entry(item.subscriber_id).or_default();
        entry.0 -= i64::from(item.unread);
        entry.1.push(item.id);
    }
    let mut pairs: HashMap<i64, Unread> = HashMap::new();
    let deltas: Vec<(i64, i64)> = per_subscriber.iter().map(|(s, (d, _))| (*s, *d)).collect();
    for chunk in deltas.chunks(STATES_PER_STATEMENT) {
        pairs.extend(bump(&txn, &chunk.iter().copied().collect()).await?);
    }
    let out = RecallOut {
        message_id: Some(id),
        recalled_at: Some(recalled_at),
        withdrawn: withdrawn.len() as u64,
        cancelled,
        beyond_reach,
    };
    audit::record(
        &txn,
        ctx,
        Change {
            action: "message.recall",
            target_kind: "message",
            target_id: Some(id.to_string()),
            before: None,
            after: audit::snapshot(&out),
        },
    )
    .await?;
    if found.recalled_at.is_none() {
        let occurred = Occurred {
            event: EventType::Recalled,
            message_id: id,
            subscriber_id: 0,
            channel: ChannelKind::Inbox.as_str(),
            detail: Some(format!(
                "withdrawn from {} inboxes; {} waiting deliveries cancelled",
                out.withdrawn,
                out.cancelled.values().sum::<u64>()
            )),
        };
        crate::events::outbox::emit(&txn, &[occurred], now).await?;
    }
    txn.commit().await?;
    for (subscriber_id, (_, ids)) in per_subscriber {
        if let Some(unread) = pairs.get(&subscriber_id) {
            bus.publish(
                subscriber_id,
                Signal::Recalled {
                    ids,
                    unread: *unread,
                },
            );
        }
    }
    Ok(out)
}

/// Recalls campaign `id`: cancels it first if it is still to send (scheduled, running
/// or paused: nothing more goes out), then recalls its message, if it started.
pub async fn recall_campaign<C>(db: &C, bus: &Bus, ctx: &AuditContext, id: i64) -> Result<RecallOut>
where
    C: ConnectionTrait + TransactionTrait,
{
    use crate::campaigns::{Action, Status, store};
    let campaign = store::get(db, id).await?;
    if matches!(
        Status::parse(&campaign.status),
        Some(Status::Scheduled | Status::Running | Status::Paused)
    ) {
        store::transition(db, ctx, id, Action::Cancel, "recalled").await?;
    }
    let started = message::Entity::find()
        .filter(message::Column::CampaignId.eq(id))
        .one(db)
        .await?;
    match started {
        Some(message) => recall(db, bus, ctx, message.id, None).await,
        None => Ok(RecallOut::default()),
    }
}

/// Deliveries of message `id` in `statuses`, counted by channel.
async fn by_channel(
    conn: &impl ConnectionTrait,
    id: i64,
    statuses: &[DeliveryStatus],
) -> Result<BTreeMap<String, u64>> {
    let mut by_channel = BTreeMap::new();
    for group in counts::of_message(conn, id).await? {
        if statuses.iter().any(|status| group.is(*status)) {
            *by_channel.entry(group.channel.clone()).or_default() += group.counted();
        }
    }
    Ok(by_channel)
}

/// Makes every live inbox item of message `id` a tombstone, in one statement; returns
/// what it withdrew.
async fn tombstone(
    txn: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Withdrawn>> {
    let backend = txn.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "UPDATE inbox_items SET recalled_at = $1 \
             WHERE recalled_at IS NULL \
               AND delivery_id IN (SELECT d.id FROM deliveries d WHERE d.message_id = $2) \
             RETURNING id, subscriber_id, (read_at IS NULL AND archived_at IS NULL) AS unread"
        }
        _ => {
            "UPDATE inbox_items SET recalled_at = ? \
             WHERE recalled_at IS NULL \
               AND delivery_id IN (SELECT d.id FROM deliveries d WHERE d.message_id = ?) \
             RETURNING id, subscriber_id, (read_at IS NULL AND archived_at IS NULL) AS unread"
        }
    };
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [now.into(), id.into()],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Withdrawn {
                id: row.try_get("", "id")?,
                subscriber_id: row.try_get("", "subscriber_id")?,
                unread: row.try_get("", "unread")?,
            })
        })
        .collect::<std::result::Result<_, sea_orm::DbErr>>()
        .map_err(Into::into)
}
