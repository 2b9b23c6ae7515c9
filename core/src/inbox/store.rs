//! Inbox items and each subscriber's unread count. Every change to a subscriber's
//! items moves their `(unread, version)` pair in the same transaction, so a client that
//! keeps the pair with the highest version can never drift.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::pairs::{bump, bump_locked, unread};
use crate::entities::inbox_item;
use crate::error::{Error, Result};
use crate::events::{EventType, Occurred};

/// An item to store for a subscriber.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub subscriber_id: i64,
    /// The delivery it comes from: storing it twice (a retried batch) stores it once.
    pub delivery_id: i64,
    pub category: String,
    pub title: String,
    pub body: String,
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InboxItem {
    /// Grows with every item: the SSE event id and the resume cursor.
    pub id: i64,
    pub category: String,
    pub title: String,
    pub body: String,
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    pub archived_at: Option<DateTime<Utc>>,
    /// When its message was recalled. Only a subscriber's data export shows recalled
    /// items; every inbox view leaves them out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recalled_at: Option<DateTime<Utc>>,
}

impl InboxItem {
    /// An item as it is stored: unread, kept, not recalled.
    pub(crate) fn just_stored(
        id: i64,
        created_at: DateTime<Utc>,
        category: String,
        title: String,
        body: String,
        data: serde_json::Value,
    ) -> Self {
        Self {
            id,
            category,
            title,
            body,
            data,
            created_at,
            read_at: None,
            archived_at: None,
            recalled_at: None,
        }
    }
}

impl From<inbox_item::Model> for InboxItem {
    fn from(m: inbox_item::Model) -> Self {
        Self {
            id: m.id,
            category: m.category,
            title: m.title,
            body: m.body,
            data: m.data,
            created_at: m.created_at,
            read_at: m.read_at,
            archived_at: m.archived_at,
            recalled_at: m.recalled_at,
        }
    }
}

/// A subscriber's unread count and the version it belongs to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Unread {
    pub count: i64,
    /// Moves on every change; a client keeps the pair with the highest version.
    pub version: i64,
}

/// An item newly stored, with its subscriber's unread pair after it: what the realtime
/// bus announces.
#[derive(Debug, Clone, Serialize)]
pub struct Stored {
    pub subscriber_id: i64,
    /// Shared by every recipient of a shared item.
    pub item: super::Announced,
    pub unread: Unread,
}

/// Stores `items` (skipping deliveries stored before, and those of messages recalled
/// meanwhile) and moves each subscriber's unread pair, in one transaction. Returns what
/// was new, in id order.
pub async fn store_batch<C>(db: &C, items: Vec<NewItem>, now: DateTime<Utc>) -> Result<Vec<Stored>>
where
    C: ConnectionTrait + TransactionTrait,
{
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let txn = crate::db::begin_write(db).await?;
    let delivery_ids: Vec<i64> = items.iter().map(|i| i.delivery_id).collect();
    let mut skipped: std::collections::HashSet<i64> = inbox_item::Entity::find()
        .select_only()
        .column(inbox_item::Column::DeliveryId)
        .filter(inbox_item::Column::DeliveryId.is_in(delivery_ids.clone()))
        .into_tuple::<Option<i64>>()
        .all(&txn)
        .await?
        .into_iter()
        .flatten()
        .collect();
    skipped.extend(of_recalled_messages(&txn, delivery_ids).await?);
    let fresh: Vec<NewItem> = items
        .into_iter()
        .filter(|item| !skipped.contains(&item.delivery_id))
        .collect();
    let subscribers: Vec<i64> = fresh.iter().map(|item| item.subscriber_id).collect();
    crate::deliveries::plan::lock_subscribers(&txn, &subscribers).await?;
    let stored = store_new(&txn, fresh, now).await?;
    txn.commit().await?;
    Ok(stored)
}

/// Which of `delivery_ids` belong to a recalled message. On Postgres their messages are
/// share-locked, so a recall committing meanwhile is waited for and seen.
async fn of_recalled_messages(
    txn: &impl ConnectionTrait,
    delivery_ids: Vec<i64>,
) -> Result<Vec<i64>> {
    use crate::entities::{delivery, message};
    let pairs: Vec<(i64, i64)> = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Id)
        .column(delivery::Column::MessageId)
        .filter(delivery::Column::Id.is_in(delivery_ids))
        .into_tuple()
        .all(txn)
        .await?;
    let mut message_ids: Vec<i64> = pairs.iter().map(|(_, message)| *message).collect();
    message_ids.sort_unstable();
    message_ids.dedup();
    let mut query = message::Entity::find()
        .select_only()
        .column(message::Column::Id)
        .column(message::Column::RecalledAt)
        .filter(message::Column::Id.is_in(message_ids));
    if crate::db::is_postgres(txn) {
        query = query.lock_shared();
    }
    let recalled: std::collections::HashSet<i64> = query
        .into_tuple::<(i64, Option<DateTime<Utc>>)>()
        .all(txn)
        .await?
        .into_iter()
        .filter_map(|(id, recalled_at)| recalled_at.map(|_| id))
        .collect();
    Ok(pairs
        .into_iter()
        .filter(|(_, message)| recalled.contains(message))
        .map(|(delivery, _)| delivery)
        .collect())
}

/// Stores items of deliveries that have none yet, in `txn` (a write transaction that
/// holds the subscribers' planning locks), and moves each subscriber's unread pair. Returns what was stored, in id order.
pub(crate) async fn store_new(
    txn: &impl ConnectionTrait,
    items: Vec<NewItem>,
    now: DateTime<Utc>,
) -> Result<Vec<Stored>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    // The items are announced as built here.
    let created_at = crate::db::as_stored(now);
    let fresh: Vec<inbox_item::ActiveModel> = items
        .iter()
        .map(|item| inbox_item::ActiveModel {
            subscriber_id: Set(Some(item.subscriber_id)),
            delivery_id: Set(Some(item.delivery_id)),
            category: Set(item.category.clone()),
            title: Set(item.title.clone()),
            body: Set(item.body.clone()),
            data: Set(item.data.clone()),
            created_at: Set(created_at),
            ..Default::default()
        })
        .collect();
    // The pairs move before the items get their ids, under the planning locks: two
    // batches for one subscriber then insert one after the other, so that subscriber's
    // ids grow in commit order and a reader resuming "after the last id" misses nothing.
    let mut planned: std::collections::BTreeMap<i64, i64> = Default::default();
    for item in &fresh {
        if let sea_orm::ActiveValue::Set(Some(subscriber_id)) = item.subscriber_id {
            *planned.entry(subscriber_id).or_default() += 1;
        }
    }
    let mut states = bump_locked(txn, &planned).await?;
    // Only the keys come back: the rest of each row is what was just written.
    let mut inserted: Vec<Inserted> = crate::bulk::insert_all_returning_columns(
        txn,
        fresh,
        &[inbox_item::Column::DeliveryId],
        &Inserted::COLUMNS,
    )
    .await?;
    inserted.sort_unstable_by_key(|row| row.id);
    let mut items: std::collections::HashMap<i64, NewItem> = items
        .into_iter()
        .map(|item| (item.delivery_id, item))
        .collect();
    let stored: Vec<(i64, InboxItem)> = inserted
        .into_iter()
        .filter_map(|row| {
            let item = items.remove(&row.delivery_id?)?;
            let shown = InboxItem::just_stored(
                row.id,
                created_at,
                item.category,
                item.title,
                item.body,
                item.data,
            );
            Some((item.subscriber_id, shown))
        })
        .collect();

    // A concurrent store of the same delivery (a lease that ran out mid-send) may have
    // won a row: count only what this call inserted.
    let mut surplus = planned.clone();
    for (subscriber_id, _) in &stored {
        *surplus.entry(*subscriber_id).or_default() -= 1;
    }
    surplus.retain(|_, extra| *extra != 0);
    let corrections = surplus
        .into_iter()
        .map(|(id, extra)| (id, -extra))
        .collect();
    states.extend(bump_locked(txn, &corrections).await?);
    Ok(stored
        .into_iter()
        .map(|(subscriber_id, item)| Stored {
            subscriber_id,
            unread: states.get(&subscriber_id).copied().unwrap_or_default(),
            item: item.into(),
        })
        .collect())
}

/// What [`store_new`] reads back of an item it inserted.
#[derive(Debug, FromQueryResult)]
struct Inserted {
    id: i64,
    delivery_id: Option<i64>,
}

impl Inserted {
    const COLUMNS: [inbox_item::Column; 2] =
        [inbox_item::Column::Id, inbox_item::Column::DeliveryId];
}

/// Which page of a subscriber's items to read.
#[derive(Debug, Clone, Copy)]
pub enum Page {
    /// Items after this id, oldest first: replay after a reconnect.
    After(i64),
    /// Items before this id (or the newest), newest first: scrolling back.
    Before(Option<i64>),
}

/// The subscriber's items, personal and shared, that are neither archived nor
/// recalled.
pub async fn list(
    conn: &impl ConnectionTrait,
    subscriber_id: i64,
    page: Page,
    limit: u64,
) -> Result<Vec<InboxItem>> {
    let personal = personal_items(conn, subscriber_id, page, limit).await?;
    let shared = super::shared::list(conn, subscriber_id, page, limit).await?;
    if shared.is_empty() {
        return Ok(personal);
    }
    // Both come in the page's order; merged by id, the window keeps its limit.
    let mut merged: Vec<InboxItem> = personal.into_iter().chain(shared).collect();
    match page {
        Page::After(_) => merged.sort_unstable_by_key(|item| item.id),
        Page::Before(_) => merged.sort_unstable_by_key(|item| std::cmp::Reverse(item.id)),
    }
    merged.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(merged)
}

async fn personal_items(
    conn: &impl ConnectionTrait,
    subscriber_id: i64,
    page: Page,
    limit: u64,
) -> Result<Vec<InboxItem>> {
    let query = inbox_item::Entity::find()
        .filter(inbox_item::Column::SubscriberId.eq(subscriber_id))
        .filter(inbox_item::Column::ArchivedAt.is_null())
        .filter(inbox_item::Column::RecalledAt.is_null());
    let query = match page {
        Page::After(id) => query
            .filter(inbox_item::Column::Id.gt(id))
            .order_by_asc(inbox_item::Column::Id),
        Page::Before(Some(id)) => query
            .filter(inbox_item::Column::Id.lt(id))
            .order_by_desc(inbox_item::Column::Id),
        Page::Before(None) => query.order_by_desc(inbox_item::Column::Id),
    };
    Ok(query
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(InboxItem::from)
        .collect())
}

/// What a client reports about an item it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// The client has the item (it arrived over some transport).
    Received,
    /// The item was shown to the user.
    Displayed,
    /// The user read it.
    Read,
    /// The user put it away: it leaves the list (and the unread count).
    Archived,
}

impl Ack {
    pub fn as_str(self) -> &'static str {
        match self {
            Ack::Received => "received",
            Ack::Displayed => "displayed",
            Ack::Read => "read",
            Ack::Archived => "archived",
        }
    }

    fn receipt_column(self) -> crate::entities::inbox_receipt::Column {
        use crate::entities::inbox_receipt::Column;
        match self {
            Ack::Received => Column::ReceivedAt,
            Ack::Displayed => Column::DisplayedAt,
            Ack::Read => Column::ReadAt,
            Ack::Archived => Column::ArchivedAt,
        }
    }

    fn column(self) -> inbox_item::Column {
        match self {
            Ack::Received => inbox_item::Column::ReceivedAt,
            Ack::Displayed => inbox_item::Column::DisplayedAt,
            Ack::Read => inbox_item::Column::ReadAt,
            Ack::Archived => inbox_item::Column::ArchivedAt,
        }
    }
}

/// Records `ack` for one of the subscriber's items (the first time only), in the item,
/// the unread pair and the delivery log. Another subscriber's item, or a recalled one,
/// is not found.
pub async fn acknowledge<C>(
    db: &C,
    subscriber_id: i64,
    item_id: i64,
    ack: Ack,
    now: DateTime<Utc>,
) -> Result<Unread>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = crate::db::begin_write(db).await?;
    let personal = inbox_item::Entity::find_by_id(item_id)
        .filter(inbox_item::Column::SubscriberId.eq(subscriber_id))
        .filter(inbox_item::Column::RecalledAt.is_null())
        .one(&txn)
        .await?;
    // (recorded now, was unread before, the delivery row it logs to, a shared item's
    // message)
    let (changed, was_unread, delivery_id, shared_message) = match personal {
        Some(item) => {
            let changed = inbox_item::Entity::update_many()
                .col_expr(ack.column(), Expr::value(now))
                .filter(inbox_item::Column::Id.eq(item_id))
                .filter(ack.column().is_null())
                // Checked again after waiting on a recall that tombstoned it: a
                // recalled item has left the unread count already.
                .filter(inbox_item::Column::RecalledAt.is_null())
                .exec(&txn)
                .await?
                .rows_affected
                == 1;
            let was_unread = item.read_at.is_none() && item.archived_at.is_none();
            (changed, was_unread, item.delivery_id, None)
        }
        None => {
            let (item, message_id) = super::shared::find(&txn, subscriber_id, item_id)
                .await?
                .ok_or(Error::NotFound {
                    entity: "inbox item",
                })?;
            let changed = super::shared::record_receipt(
                &txn,
                subscriber_id,
                item_id,
                ack.receipt_column(),
                now,
            )
            .await?;
            let was_unread = item.read_at.is_none() && item.archived_at.is_none();
            // Items stored before the log's shared entries have a row per recipient;
            // otherwise the receipt is what the log shows.
            let delivery_id = if changed {
                inbox_delivery(&txn, message_id, subscriber_id).await?
            } else {
                None
            };
            (changed, was_unread, delivery_id, Some(message_id))
        }
    };
    if changed {
        let leaves_unread = matches!(ack, Ack::Read | Ack::Archived) && was_unread;
        if leaves_unread || ack == Ack::Archived {
            let delta = if leaves_unread { -1 } else { 0 };
            bump(&txn, &[(subscriber_id, delta)].into_iter().collect()).await?;
        }
        let message_id = match delivery_id {
            Some(delivery_id) => log_ack(&txn, delivery_id, ack, now).await?,
            None => shared_message,
        };
        let event = match ack {
            Ack::Read => Some(EventType::Read),
            Ack::Archived => Some(EventType::Dismissed),
            Ack::Received | Ack::Displayed => None,
        };
        if let Some(event) = event {
            let occurred = acked(event, subscriber_id, [message_id.unwrap_or_default()]);
            crate::events::outbox::emit(&txn, &occurred, now).await?;
        }
    }
    let state = unread(&txn, subscriber_id).await?;
    txn.commit().await?;
    Ok(state)
}

/// Marks every unread item of the subscriber read.
pub async fn mark_all_read<C>(db: &C, subscriber_id: i64, now: DateTime<Utc>) -> Result<Unread>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = crate::db::begin_write(db).await?;
    let unread_deliveries: Vec<Option<i64>> = inbox_item::Entity::find()
        .select_only()
        .column(inbox_item::Column::DeliveryId)
        .filter(inbox_item::Column::SubscriberId.eq(subscriber_id))
        .filter(inbox_item::Column::ReadAt.is_null())
        .filter(inbox_item::Column::ArchivedAt.is_null())
        .filter(inbox_item::Column::RecalledAt.is_null())
        .into_tuple()
        .all(&txn)
        .await?;
    let read = inbox_item::Entity::update_many()
        .col_expr(inbox_item::Column::ReadAt, Expr::value(now))
        .filter(inbox_item::Column::SubscriberId.eq(subscriber_id))
        .filter(inbox_item::Column::ReadAt.is_null())
        .filter(inbox_item::Column::ArchivedAt.is_null())
        .filter(inbox_item::Column::RecalledAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    let (shared_read, shared_messages) =
        super::shared::mark_all_read(&txn, subscriber_id, now).await?;
    let read = read + shared_read;
    if read > 0 {
        let delta = -i64::try_from(read).unwrap_or(i64::MAX);
        bump(&txn, &[(subscriber_id, delta)].into_iter().collect()).await?;
        let mut messages = messages_of(&txn, unread_deliveries).await?;
        messages.extend(shared_messages);
        let occurred = acked(EventType::Read, subscriber_id, messages);
        crate::events::outbox::emit(&txn, &occurred, now).await?;
    }
    let state = unread(&txn, subscriber_id).await?;
    txn.commit().await?;
    Ok(state)
}

/// The messages of the deliveries the items name (0 where the log no longer has one).
async fn messages_of(txn: &impl ConnectionTrait, deliveries: Vec<Option<i64>>) -> Result<Vec<i64>> {
    use crate::entities::delivery;
    let ids: Vec<i64> = deliveries.iter().flatten().copied().collect();
    let mut found = std::collections::HashMap::new();
    for chunk in ids.chunks(1_000) {
        let pairs: Vec<(i64, i64)> = delivery::Entity::find()
            .select_only()
            .column(delivery::Column::Id)
            .column(delivery::Column::MessageId)
            .filter(crate::db::one_of(txn, delivery::Column::Id, chunk.to_vec()))
            .into_tuple()
            .all(txn)
            .await?;
        found.extend(pairs);
    }
    Ok(deliveries
        .into_iter()
        .map(|id| {
            id.and_then(|id| found.get(&id).copied())
                .unwrap_or_default()
        })
        .collect())
}

/// The events of a subscriber's acknowledgement of the items of `messages`.
fn acked(
    event: EventType,
    subscriber_id: i64,
    messages: impl IntoIterator<Item = i64>,
) -> Vec<Occurred> {
    messages
        .into_iter()
        .map(|message_id| Occurred {
            event,
            message_id,
            subscriber_id,
            channel: crate::channel::ChannelKind::Inbox.as_str(),
            detail: None,
        })
        .collect()
}

/// The inbox delivery of a message to a subscriber (a shared item's recipient), while
/// the log keeps it.
async fn inbox_delivery(
    txn: &impl ConnectionTrait,
    message_id: i64,
    subscriber_id: i64,
) -> Result<Option<i64>> {
    use crate::entities::delivery;
    Ok(delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Id)
        .filter(delivery::Column::MessageId.eq(message_id))
        .filter(delivery::Column::SubscriberId.eq(subscriber_id))
        .filter(delivery::Column::Channel.eq(crate::channel::ChannelKind::Inbox.as_str()))
        .into_tuple()
        .one(txn)
        .await?)
}

/// The delivery log keeps what the client reported, beside the attempts.
/// Returns the delivery's message, when the log still has it.
async fn log_ack(
    txn: &impl ConnectionTrait,
    delivery_id: i64,
    ack: Ack,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    use crate::entities::{delivery, delivery_attempt};
    // The log keeps deliveries only while their message exists; the item outlives it.
    let Some(logged) = delivery::Entity::find_by_id(delivery_id).one(txn).await? else {
        return Ok(None);
    };
    delivery_attempt::Entity::insert(delivery_attempt::ActiveModel {
        delivery_id: Set(delivery_id),
        attempt: Set(0),
        started_at: Set(now),
        duration_ms: Set(0),
        outcome: Set(ack.as_str().to_owned()),
        detail: Set(format!(
            "the subscriber's client reported the item {}",
            ack.as_str()
        )),
        ..Default::default()
    })
    .exec_without_returning(txn)
    .await?;
    Ok(Some(logged.message_id))
}

/// Ids of the subscriber's items recalled at or after `since`, oldest first (for
/// clients that poll rather than stream).
pub async fn recalled_since(
    conn: &impl ConnectionTrait,
    subscriber_id: i64,
    since: DateTime<Utc>,
) -> Result<Vec<i64>> {
    let mut ids: Vec<i64> = inbox_item::Entity::find()
        .select_only()
        .column(inbox_item::Column::Id)
        .filter(inbox_item::Column::SubscriberId.eq(subscriber_id))
        .filter(inbox_item::Column::RecalledAt.gte(since))
        .into_tuple()
        .all(conn)
        .await?;
    ids.extend(super::shared::recalled_since(conn, subscriber_id, since).await?);
    ids.sort_unstable();
    Ok(ids)
}

/// The subscriber's newest item id, personal or shared (0 before the first): where a
/// new stream starts.
pub async fn latest_id(conn: &impl ConnectionTrait, subscriber_id: i64) -> Result<i64> {
    let shared = super::shared::latest_id(conn, subscriber_id).await?;
    let personal = inbox_item::Entity::find()
        .select_only()
        .column_as(inbox_item::Column::Id.max(), "latest")
        .filter(inbox_item::Column::SubscriberId.eq(subscriber_id))
        .into_tuple::<Option<i64>>()
        .one(conn)
        .await?
        .flatten()
        .unwrap_or(0);
    Ok(std::cmp::max(personal, shared))
}
