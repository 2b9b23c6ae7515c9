//! Inbox items shared by many recipients (ADR 0003): a broadcast whose inbox content is
//! the same for everyone is stored as one item per planned page, not one per recipient.
//!
//! Whom it was meant for is kept as bitmaps (`inbox_shares`: subscriber ids in blocks
//! of 64, a bit each), so "was item i meant for s" is a primary-key lookup and a mask
//! in SQL on both databases. What a recipient does with it (received, displayed, read,
//! archived) goes to `inbox_receipts`, written only when they act. Ids come from the
//! same sequence as personal items, so a subscriber's items, personal and shared, keep
//! one resume cursor; the page's planner locks its subscribers before the item gets its
//! id, so each subscriber's ids still grow in commit order.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, LockType, OnConflict, Order, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
};

use super::store::{InboxItem, Stored};
use crate::blocks::{bitmaps, block_of, marks, members};
use crate::entities::{inbox_item, inbox_receipt, inbox_share};
use crate::error::Result;

/// Receipt rows written per statement.
const ROWS_PER_STATEMENT: usize = 1_000;

/// The content of an item shared by a page's recipients.
#[derive(Debug, Clone)]
pub struct SharedItem {
    pub message_id: i64,
    pub category: String,
    pub title: String,
    pub body: String,
    pub data: serde_json::Value,
}

impl SharedItem {
    /// The content of `item`, rendered for one recipient of message `message_id`.
    pub(crate) fn of(message_id: i64, item: super::NewItem) -> Self {
        Self {
            message_id,
            category: item.category,
            title: item.title,
            body: item.body,
            data: item.data,
        }
    }
}

/// Stores `item` once for `recipients` (who have no item of its message yet) in `txn`,
/// the write transaction that planned them, without writing their unread pairs (they
/// count it lazily, see [`super::pairs`]) or their delivery rows (its share bits are
/// their entries in the delivery log, see [`crate::deliveries::shared`]). Returns what their streams are told, one
/// entry per recipient, all sharing one item.
pub(crate) async fn store(
    txn: &impl ConnectionTrait,
    item: SharedItem,
    recipients: &[i64],
    now: DateTime<Utc>,
) -> Result<Vec<Stored>> {
    if recipients.is_empty() {
        return Ok(Vec::new());
    }
    // The recipients' planning locks first (the planner holds them already): the
    // item's id is then taken after any other change to these inboxes that commits
    // before this one.
    crate::deliveries::plan::lock_subscribers(txn, recipients).await?;
    // The item is announced as built here.
    let created_at = crate::db::as_stored(now);
    let id = inbox_item::Entity::insert(inbox_item::ActiveModel {
        subscriber_id: Set(None),
        message_id: Set(Some(item.message_id)),
        delivery_id: Set(None),
        category: Set(item.category.clone()),
        title: Set(item.title.clone()),
        body: Set(item.body.clone()),
        data: Set(item.data.clone()),
        created_at: Set(created_at),
        logged_recipients: Set(recipients.len() as i64),
        ..Default::default()
    })
    .exec(txn)
    .await?
    .last_insert_id;
    let shares: Vec<inbox_share::ActiveModel> = bitmaps(recipients.iter().copied())
        .into_iter()
        .map(|(block, bits)| inbox_share::ActiveModel {
            block: Set(block),
            item_id: Set(id),
            bits: Set(bits),
        })
        .collect();
    crate::bulk::insert_all(txn, shares, &[]).await?;
    let pairs = super::pairs::after_shared(txn, recipients).await?;
    let item = super::Announced::new(InboxItem::just_stored(
        id,
        created_at,
        item.category,
        item.title,
        item.body,
        item.data,
    ));
    Ok(recipients
        .iter()
        .map(|subscriber_id| Stored {
            subscriber_id: *subscriber_id,
            unread: pairs.get(subscriber_id).copied().unwrap_or_default(),
            item: item.clone(),
        })
        .collect())
}

/// A shared item as one recipient sees it: the item with their receipt.
#[derive(Debug, FromQueryResult)]
struct SeenRow {
    id: i64,
    message_id: Option<i64>,
    category: String,
    title: String,
    body: String,
    data: serde_json::Value,
    created_at: DateTime<Utc>,
    recalled_at: Option<DateTime<Utc>>,
    read_at: Option<DateTime<Utc>>,
    archived_at: Option<DateTime<Utc>>,
}

impl From<SeenRow> for InboxItem {
    fn from(row: SeenRow) -> Self {
        Self {
            id: row.id,
            category: row.category,
            title: row.title,
            body: row.body,
            data: row.data,
            created_at: row.created_at,
            read_at: row.read_at,
            archived_at: row.archived_at,
            recalled_at: row.recalled_at,
        }
    }
}

/// Shared items meant for `subscriber_id`, with their receipt (if any) joined.
fn seen_by(subscriber_id: i64) -> SelectStatement {
    let (block, mask) = block_of(subscriber_id);
    let items = inbox_item::Entity;
    let receipts = inbox_receipt::Entity;
    let shares = inbox_share::Entity;
    Query::select()
        .columns([
            (items, inbox_item::Column::Id),
            (items, inbox_item::Column::MessageId),
            (items, inbox_item::Column::Category),
            (items, inbox_item::Column::Title),
            (items, inbox_item::Column::Body),
            (items, inbox_item::Column::Data),
            (items, inbox_item::Column::CreatedAt),
            (items, inbox_item::Column::RecalledAt),
        ])
        .columns([
            (receipts, inbox_receipt::Column::ReadAt),
            (receipts, inbox_receipt::Column::ArchivedAt),
        ])
        .from(shares)
        .inner_join(
            items,
            Expr::col((items, inbox_item::Column::Id))
                .equals((shares, inbox_share::Column::ItemId)),
        )
        .left_join(
            receipts,
            Expr::col((receipts, inbox_receipt::Column::ItemId))
                .equals((shares, inbox_share::Column::ItemId))
                .and(Expr::col((receipts, inbox_receipt::Column::SubscriberId)).eq(subscriber_id)),
        )
        .and_where(Expr::col((shares, inbox_share::Column::Block)).eq(block))
        .and_where(marks((shares, inbox_share::Column::Bits), mask))
        .to_owned()
}

/// Postgres: share-locks the items `query` finds until the transaction ends, so a
/// recall (which tombstones them first) and an acknowledgement take turns, and each
/// sees what the other did to the unread pair. SQLite serialises writers already.
fn lock_items(conn: &impl ConnectionTrait, query: &mut SelectStatement) {
    if crate::db::is_postgres(conn) {
        query.lock_with_tables(LockType::Share, [inbox_item::Entity]);
    }
}

async fn rows(conn: &impl ConnectionTrait, query: &SelectStatement) -> Result<Vec<SeenRow>> {
    let statement = conn.get_database_backend().build(query);
    Ok(SeenRow::find_by_statement(statement).all(conn).await?)
}

/// Shared items of the subscriber that are neither archived nor recalled, in the order
/// and window `page` asks for.
pub(crate) async fn list(
    conn: &impl ConnectionTrait,
    subscriber_id: i64,
    page: super::Page,
    limit: u64,
) -> Result<Vec<InboxItem>> {
    let mut query = seen_by(subscriber_id);
    query
        .and_where(Expr::col((inbox_item::Entity, inbox_item::Column::RecalledAt)).is_null())
        .and_where(Expr::col((inbox_receipt::Entity, inbox_receipt::Column::ArchivedAt)).is_null())
        .limit(limit);
    let shared_id = (inbox_share::Entity, inbox_share::Column::ItemId);
    match page {
        super::Page::After(id) => {
            query
                .and_where(Expr::col(shared_id).gt(id))
                .order_by(shared_id, Order::Asc);
        }
        super::Page::Before(before) => {
            if let Some(id) = before {
                query.and_where(Expr::col(shared_id).lt(id));
            }
            query.order_by(shared_id, Order::Desc);
        }
    }
    Ok(rows(conn, &query)
        .await?
        .into_iter()
        .map(InboxItem::from)
        .collect())
}

/// The newest shared item id meant for the subscriber, recalled or not.
pub(crate) async fn latest_id(conn: &impl ConnectionTrait, subscriber_id: i64) -> Result<i64> {
    let (block, mask) = block_of(subscriber_id);
    let latest: Option<i64> = inbox_share::Entity::find()
        .select_only()
        .column(inbox_share::Column::ItemId)
        .filter(inbox_share::Column::Block.eq(block))
        .filter(marks(inbox_share::Column::Bits, mask))
        .order_by_desc(inbox_share::Column::ItemId)
        .into_tuple::<i64>()
        .one(conn)
        .await?;
    Ok(latest.unwrap_or(0))
}

/// A shared item meant for the subscriber and not recalled, with their receipt's
/// read and archived times; `None` when it is not theirs. Share-locked on Postgres
/// (see [`lock_items`]): call it in the transaction that acknowledges it.
pub(crate) async fn find(
    conn: &impl ConnectionTrait,
    subscriber_id: i64,
    item_id: i64,
) -> Result<Option<(InboxItem, i64)>> {
    let mut query = seen_by(subscriber_id);
    query
        .and_where(Expr::col((inbox_share::Entity, inbox_share::Column::ItemId)).eq(item_id))
        .and_where(Expr::col((inbox_item::Entity, inbox_item::Column::RecalledAt)).is_null());
    lock_items(conn, &mut query);
    Ok(rows(conn, &query).await?.into_iter().next().map(|row| {
        let message_id = row.message_id.unwrap_or_default();
        (InboxItem::from(row), message_id)
    }))
}

/// Records `column` (a receipt time) for the subscriber's shared item, the first time
/// only; answers whether this call recorded it.
pub(crate) async fn record_receipt(
    txn: &impl ConnectionTrait,
    subscriber_id: i64,
    item_id: i64,
    column: inbox_receipt::Column,
    now: DateTime<Utc>,
) -> Result<bool> {
    let mut receipt = inbox_receipt::ActiveModel {
        subscriber_id: Set(subscriber_id),
        item_id: Set(item_id),
        received_at: Set(None),
        displayed_at: Set(None),
        read_at: Set(None),
        archived_at: Set(None),
    };
    receipt.set(column, Some(now).into());
    let first = inbox_receipt::Entity::insert(receipt)
        .on_conflict(
            OnConflict::columns([
                inbox_receipt::Column::SubscriberId,
                inbox_receipt::Column::ItemId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    if first == 1 {
        return Ok(true);
    }
    Ok(inbox_receipt::Entity::update_many()
        .col_expr(column, Expr::value(now))
        .filter(inbox_receipt::Column::SubscriberId.eq(subscriber_id))
        .filter(inbox_receipt::Column::ItemId.eq(item_id))
        .filter(column.is_null())
        .exec(txn)
        .await?
        .rows_affected
        == 1)
}

/// Marks every unread shared item of the subscriber read; returns how many it marked
/// and their messages.
pub(crate) async fn mark_all_read(
    txn: &impl ConnectionTrait,
    subscriber_id: i64,
    now: DateTime<Utc>,
) -> Result<(u64, Vec<i64>)> {
    let mut query = seen_by(subscriber_id);
    query
        .and_where(Expr::col((inbox_item::Entity, inbox_item::Column::RecalledAt)).is_null())
        .and_where(Expr::col((inbox_receipt::Entity, inbox_receipt::Column::ReadAt)).is_null())
        .and_where(Expr::col((inbox_receipt::Entity, inbox_receipt::Column::ArchivedAt)).is_null());
    lock_items(txn, &mut query);
    let unread = rows(txn, &query).await?;
    let receipts: Vec<inbox_receipt::ActiveModel> = unread
        .iter()
        .map(|row| inbox_receipt::ActiveModel {
            subscriber_id: Set(subscriber_id),
            item_id: Set(row.id),
            received_at: Set(None),
            displayed_at: Set(None),
            read_at: Set(Some(now)),
            archived_at: Set(None),
        })
        .collect();
    // Counted by what the statements changed: an item read meanwhile is not read twice.
    let mut marked = 0;
    for chunk in receipts.chunks(ROWS_PER_STATEMENT) {
        marked += inbox_receipt::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([
                    inbox_receipt::Column::SubscriberId,
                    inbox_receipt::Column::ItemId,
                ])
                .update_column(inbox_receipt::Column::ReadAt)
                .action_and_where(
                    Expr::col((inbox_receipt::Entity, inbox_receipt::Column::ReadAt)).is_null(),
                )
                .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    let messages = unread
        .into_iter()
        .map(|row| row.message_id.unwrap_or_default())
        .collect();
    Ok((marked, messages))
}

/// Ids of the subscriber's shared items recalled at or after `since`.
pub(crate) async fn recalled_since(
    conn: &impl ConnectionTrait,
    subscriber_id: i64,
    since: DateTime<Utc>,
) -> Result<Vec<i64>> {
    let mut query = seen_by(subscriber_id);
    query.and_where(Expr::col((inbox_item::Entity, inbox_item::Column::RecalledAt)).gte(since));
    Ok(rows(conn, &query)
        .await?
        .into_iter()
        .map(|row| row.id)
        .collect())
}

/// Every shared item meant for the subscriber, oldest first (their data export).
pub(crate) async fn all_of(
    conn: &impl ConnectionTrait,
    subscriber_id: i64,
) -> Result<Vec<InboxItem>> {
    let mut query = seen_by(subscriber_id);
    query.order_by(
        (inbox_share::Entity, inbox_share::Column::ItemId),
        Order::Asc,
    );
    Ok(rows(conn, &query)
        .await?
        .into_iter()
        .map(InboxItem::from)
        .collect())
}

/// One recipient of a shared item a recall withdrew.
pub(crate) struct Withdrawn {
    pub item_id: i64,
    pub subscriber_id: i64,
    /// It counted in their unread pair (neither read nor archived).
    pub unread: bool,
}

/// Makes message `message_id`'s live shared items tombstones; returns each recipient
/// they leave.
pub(crate) async fn withdraw(
    txn: &impl ConnectionTrait,
    message_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Withdrawn>> {
    let items: Vec<i64> = inbox_item::Entity::find()
        .select_only()
        .column(inbox_item::Column::Id)
        .filter(inbox_item::Column::MessageId.eq(message_id))
        .filter(inbox_item::Column::RecalledAt.is_null())
        .into_tuple()
        .all(txn)
        .await?;
    if items.is_empty() {
        return Ok(Vec::new());
    }
    inbox_item::Entity::update_many()
        .col_expr(inbox_item::Column::RecalledAt, Expr::value(now))
        .filter(inbox_item::Column::Id.is_in(items.clone()))
        .exec(txn)
        .await?;
    let shares = inbox_share::Entity::find()
        .filter(inbox_share::Column::ItemId.is_in(items.clone()))
        .all(txn)
        .await?;
    let put_away: std::collections::HashSet<(i64, i64)> = inbox_receipt::Entity::find()
        .select_only()
        .column(inbox_receipt::Column::SubscriberId)
        .column(inbox_receipt::Column::ItemId)
        .filter(inbox_receipt::Column::ItemId.is_in(items))
        .filter(
            inbox_receipt::Column::ReadAt
                .is_not_null()
                .or(inbox_receipt::Column::ArchivedAt.is_not_null()),
        )
        .into_tuple()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    Ok(shares
        .into_iter()
        .flat_map(|share| {
            members(share.block, share.bits)
                .map(move |subscriber_id| (share.item_id, subscriber_id))
        })
        .map(|(item_id, subscriber_id)| Withdrawn {
            item_id,
            subscriber_id,
            unread: !put_away.contains(&(subscriber_id, item_id)),
        })
        .collect())
}

/// Forgets that a deleted subscriber was meant for any shared item.
pub(crate) async fn forget(txn: &impl ConnectionTrait, subscriber_id: i64) -> Result<()> {
    let (block, mask) = block_of(subscriber_id);
    inbox_share::Entity::update_many()
        .col_expr(
            inbox_share::Column::Bits,
            Expr::col(inbox_share::Column::Bits).bit_and(!mask),
        )
        .filter(inbox_share::Column::Block.eq(block))
        .filter(marks(inbox_share::Column::Bits, mask))
        .exec(txn)
        .await?;
    Ok(())
}
