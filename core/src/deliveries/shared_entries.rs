//! The shared entries of the delivery log (see [`super::shared`]) as the log lists
//! them: filtered like the rows, newest item first and, within an item, highest
//! subscriber id first. Such an entry has no delivery id: it is named by its item and
//! its recipient.

use foldhash::{HashMap, HashMapExt};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
};

use super::log::{AttemptEntry, DeliveryEntry, DeliveryFilter, DeliveryTrace};
use super::shared::{STORED, logged_shares};
use super::status::DeliveryStatus;
use crate::blocks::{block_of, marks, members};
use crate::channel::ChannelKind;
use crate::entities::{inbox_item, inbox_receipt, inbox_share, message, subscriber};
use crate::error::{Error, Result};

/// Where a page of shared entries starts: below this item, or within it below this
/// subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedPosition {
    pub item_id: i64,
    pub subscriber_id: i64,
}

impl SharedPosition {
    /// Before every entry.
    pub const START: Self = Self {
        item_id: i64::MAX,
        subscriber_id: i64::MAX,
    };
}

#[derive(Debug, FromQueryResult)]
struct ShareRow {
    item_id: i64,
    block: i64,
    bits: i64,
    message_id: Option<i64>,
    created_at: DateTime<Utc>,
}

/// The share rows of items that log deliveries, as [`ShareRow`]s.
fn share_rows() -> SelectStatement {
    let (items, shares) = (inbox_item::Entity, inbox_share::Entity);
    let mut query = logged_shares();
    query
        .columns([
            (shares, inbox_share::Column::ItemId),
            (shares, inbox_share::Column::Block),
            (shares, inbox_share::Column::Bits),
        ])
        .columns([
            (items, inbox_item::Column::MessageId),
            (items, inbox_item::Column::CreatedAt),
        ]);
    query
}

/// One shared entry before its recipient is named.
struct Entry {
    row_at: usize,
    subscriber_id: i64,
}

/// Up to `limit` shared entries matching `filter` after `from`, in the log's order,
/// each with its own position (the next page starts after the last one taken).
pub(crate) async fn list(
    conn: &impl ConnectionTrait,
    filter: &DeliveryFilter,
    from: SharedPosition,
    limit: u64,
) -> Result<Vec<(DeliveryEntry, SharedPosition)>> {
    let other_channel = filter.channel.is_some_and(|c| c != ChannelKind::Inbox);
    let other_status = filter
        .status
        .is_some_and(|s| s != DeliveryStatus::Delivered);
    if other_channel || other_status || limit == 0 {
        return Ok(Vec::new());
    }
    let (items, shares) = (inbox_item::Entity, inbox_share::Entity);
    let mut query = share_rows();
    query.and_where(Expr::col((shares, inbox_share::Column::Bits)).ne(0));
    let mut one_subscriber = None;
    if let Some(external_id) = &filter.subscriber {
        let Some(id) = subscriber_id(conn, external_id).await? else {
            return Ok(Vec::new());
        };
        let (block, mask) = block_of(id);
        query
            .and_where(Expr::col((shares, inbox_share::Column::Block)).eq(block))
            .and_where(marks((shares, inbox_share::Column::Bits), mask));
        one_subscriber = Some(id);
    }
    if let Some(id) = filter.message_id {
        query.and_where(Expr::col((items, inbox_item::Column::MessageId)).eq(id));
    }
    if let Some(campaign) = filter.campaign_id {
        query.and_where(
            Expr::col((items, inbox_item::Column::MessageId)).in_subquery(
                Query::select()
                    .column(message::Column::Id)
                    .from(message::Entity)
                    .and_where(message::Column::CampaignId.eq(campaign))
                    .to_owned(),
            ),
        );
    }
    // A shared entry changes no more after its item was stored.
    if let Some(since) = filter.since {
        query.and_where(Expr::col((items, inbox_item::Column::CreatedAt)).gte(since));
    }
    if let Some(until) = filter.until {
        query.and_where(Expr::col((items, inbox_item::Column::CreatedAt)).lt(until));
    }
    let item = Expr::col((shares, inbox_share::Column::ItemId));
    let block = Expr::col((shares, inbox_share::Column::Block));
    query
        .and_where(
            item.clone().lt(from.item_id).or(item
                .eq(from.item_id)
                .and(block.lte(block_of(from.subscriber_id).0))),
        )
        .order_by((shares, inbox_share::Column::ItemId), Order::Desc)
        .order_by((shares, inbox_share::Column::Block), Order::Desc)
        // Each row holds at least one entry, but the first may be one a page before
        // took part of.
        .limit(limit.saturating_add(1));
    let statement = conn.get_database_backend().build(&query);
    let rows = ShareRow::find_by_statement(statement).all(conn).await?;

    let mut entries: Vec<Entry> = Vec::new();
    'rows: for (row_at, row) in rows.iter().enumerate() {
        let mut ids: Vec<i64> = members(row.block, row.bits).collect();
        ids.reverse();
        for subscriber_id in ids {
            let passed = row.item_id == from.item_id && subscriber_id >= from.subscriber_id;
            if passed || one_subscriber.is_some_and(|one| one != subscriber_id) {
                continue;
            }
            entries.push(Entry {
                row_at,
                subscriber_id,
            });
            if entries.len() as u64 == limit {
                break 'rows;
            }
        }
    }
    let names = external_ids(conn, entries.iter().map(|e| e.subscriber_id)).await?;
    Ok(entries
        .into_iter()
        .map(|e| {
            let row = &rows[e.row_at];
            let listed = entry(
                row.item_id,
                row.message_id.unwrap_or_default(),
                names.get(&e.subscriber_id).cloned().unwrap_or_default(),
                row.created_at,
            );
            let position = SharedPosition {
                item_id: row.item_id,
                subscriber_id: e.subscriber_id,
            };
            (listed, position)
        })
        .collect())
}

fn entry(item_id: i64, message_id: i64, recipient: String, at: DateTime<Utc>) -> DeliveryEntry {
    DeliveryEntry {
        id: None,
        item_id: Some(item_id),
        message_id,
        recipient,
        channel: ChannelKind::Inbox.as_str().to_owned(),
        endpoint_id: None,
        status: DeliveryStatus::Delivered.as_str().to_owned(),
        filter: None,
        rule_id: None,
        list_entry_id: None,
        reason: None,
        attempts: 1,
        not_before: None,
        created_at: at,
        updated_at: at,
    }
}

async fn subscriber_id(conn: &impl ConnectionTrait, external_id: &str) -> Result<Option<i64>> {
    Ok(subscriber::Entity::find()
        .select_only()
        .column(subscriber::Column::Id)
        .filter(subscriber::Column::ExternalId.eq(external_id))
        .into_tuple()
        .one(conn)
        .await?)
}

async fn external_ids(
    conn: &impl ConnectionTrait,
    ids: impl Iterator<Item = i64>,
) -> Result<HashMap<i64, String>> {
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(subscriber::Entity::find()
        .select_only()
        .columns([subscriber::Column::Id, subscriber::Column::ExternalId])
        .filter(crate::db::ids_in(conn, subscriber::Column::Id, &ids))
        .into_tuple::<(i64, String)>()
        .all(conn)
        .await?
        .into_iter()
        .collect())
}

/// Every shared entry of message `message_id`, oldest item first (its sender's report).
pub(crate) async fn of_message(
    conn: &impl ConnectionTrait,
    message_id: i64,
) -> Result<Vec<DeliveryEntry>> {
    let filter = DeliveryFilter {
        message_id: Some(message_id),
        ..DeliveryFilter::default()
    };
    let mut all = Vec::new();
    let mut from = SharedPosition::START;
    loop {
        let page = list(conn, &filter, from, PAGE).await?;
        let full = page.len() as u64 == PAGE;
        if let Some((_, last)) = page.last() {
            from = *last;
        }
        all.extend(page.into_iter().map(|(entry, _)| entry));
        if !full {
            break;
        }
    }
    all.reverse();
    Ok(all)
}

/// Entries read per statement when all of them are wanted.
const PAGE: u64 = 5_000;

/// The shared entry of item `item_id` for the subscriber `external_id`, with its
/// attempt (the item stored) and what their client reported since, oldest first.
pub async fn trace(
    conn: &impl ConnectionTrait,
    item_id: i64,
    external_id: &str,
) -> Result<DeliveryTrace> {
    let not_found = Error::NotFound { entity: "delivery" };
    let Some(subscriber_id) = subscriber_id(conn, external_id).await? else {
        return Err(not_found);
    };
    let (block, mask) = block_of(subscriber_id);
    let mut query = share_rows();
    query
        .and_where(Expr::col((inbox_share::Entity, inbox_share::Column::ItemId)).eq(item_id))
        .and_where(Expr::col((inbox_share::Entity, inbox_share::Column::Block)).eq(block))
        .and_where(marks(
            (inbox_share::Entity, inbox_share::Column::Bits),
            mask,
        ));
    let statement = conn.get_database_backend().build(&query);
    let Some(row) = ShareRow::find_by_statement(statement).one(conn).await? else {
        return Err(not_found);
    };
    let mut attempts = vec![AttemptEntry {
        attempt: 1,
        started_at: row.created_at,
        duration_ms: 0,
        outcome: "delivered".to_owned(),
        detail: STORED.to_owned(),
    }];
    if let Some(receipt) = inbox_receipt::Entity::find()
        .filter(inbox_receipt::Column::SubscriberId.eq(subscriber_id))
        .filter(inbox_receipt::Column::ItemId.eq(item_id))
        .one(conn)
        .await?
    {
        let mut reported: Vec<(DateTime<Utc>, &str)> = [
            (receipt.received_at, "received"),
            (receipt.displayed_at, "displayed"),
            (receipt.read_at, "read"),
            (receipt.archived_at, "archived"),
        ]
        .into_iter()
        .filter_map(|(at, ack)| at.map(|at| (at, ack)))
        .collect();
        reported.sort_by_key(|(at, _)| *at);
        attempts.extend(reported.into_iter().map(|(at, ack)| AttemptEntry {
            attempt: 0,
            started_at: at,
            duration_ms: 0,
            outcome: ack.to_owned(),
            detail: format!("the subscriber's client reported the item {ack}"),
        }));
    }
    Ok(DeliveryTrace {
        delivery: entry(
            row.item_id,
            row.message_id.unwrap_or_default(),
            external_id.to_owned(),
            row.created_at,
        ),
        attempts_made: attempts,
    })
}
