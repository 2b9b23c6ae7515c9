//! The send ledger: one slot per (message, subscriber, channel) that went or is going,
//! counted by frequency caps, budgets and dedup windows. Planning reserves slots under
//! the subscribers' locks, so concurrent planners count each other's.
//!
//! Slots are stored as bitmaps ([`crate::blocks`]): a row per message, channel, instant
//! and block of 64 subscriber ids. A page of 1,000 neighbouring recipients reserves
//! about 16 rows instead of 1,000, and a cap over that page reads as few. A lone
//! recipient still takes one row.

use foldhash::{HashSet, HashSetExt};
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{CaseStatement, Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect,
};

use super::queue::RECORD_CHUNK;
use crate::blocks::{bitmaps, block_of, blocks_of, marks, members};
use crate::bulk::insert_all;
use crate::channel::ChannelKind;
use crate::db::ids_in;
use crate::entities::{message, send_ledger};
use crate::error::Result;

/// Where a row sits: message, channel, instant, block.
type RowKey = (i64, &'static str, DateTime<Utc>, i64);

/// Slots taken in one transaction, gathered into their rows before they are written.
#[derive(Default)]
pub struct Slots {
    rows: BTreeMap<RowKey, (send_ledger::ActiveModel, i64)>,
}

impl Slots {
    /// Takes the slot of `message` for `subscriber_id` on `channel` at `at`.
    pub fn take(
        &mut self,
        message: &message::Model,
        subscriber_id: i64,
        channel: ChannelKind,
        at: DateTime<Utc>,
    ) {
        let (block, mask) = block_of(subscriber_id);
        let (_, bits) = self
            .rows
            .entry((message.id, channel.as_str(), at, block))
            .or_insert_with(|| {
                let row = send_ledger::ActiveModel {
                    message_id: Set(Some(message.id)),
                    channel: Set(channel.as_str().to_owned()),
                    category: Set(message.category.clone()),
                    template_id: Set(message.template_id),
                    dedup_key: Set(message.dedup_key.clone()),
                    sent_at: Set(at),
                    block: Set(block),
                    ..Default::default()
                };
                (row, 0)
            });
        *bits |= mask;
    }
}

/// Writes the rows of `slots` in `txn`.
pub async fn write(txn: &impl ConnectionTrait, slots: Slots) -> Result<()> {
    let rows: Vec<send_ledger::ActiveModel> = slots
        .rows
        .into_values()
        .map(|(mut row, bits)| {
            row.bits = Set(bits);
            row
        })
        .collect();
    insert_all(txn, rows, &[]).await
}

/// Gives back the slots of deliveries, by (message, subscriber, channel), that were held
/// back after all: a cap counts what was sent, and these were not. Rows left with no
/// subscriber go.
pub(crate) async fn release(
    txn: &impl ConnectionTrait,
    deliveries: &[(i64, i64, &str)],
) -> Result<()> {
    use send_ledger::Column;
    let mut masks: BTreeMap<(i64, &str), BTreeMap<i64, i64>> = BTreeMap::new();
    for &(message_id, subscriber_id, channel) in deliveries {
        let (block, mask) = block_of(subscriber_id);
        *masks
            .entry((message_id, channel))
            .or_default()
            .entry(block)
            .or_default() |= mask;
    }
    for ((message_id, channel), blocks) in masks {
        let blocks: Vec<(i64, i64)> = blocks.into_iter().collect();
        for chunk in blocks.chunks(RECORD_CHUNK) {
            let kept = chunk
                .iter()
                .fold(CaseStatement::new(), |kept, (block, mask)| {
                    kept.case(Expr::col(Column::Block).eq(*block), !mask)
                })
                .finally(-1_i64);
            let these = Column::MessageId
                .eq(message_id)
                .and(Column::Channel.eq(channel))
                .and(Column::Block.is_in(chunk.iter().map(|(block, _)| *block)));
            send_ledger::Entity::update_many()
                .col_expr(Column::Bits, Expr::col(Column::Bits).bit_and(kept))
                .filter(these.clone())
                .exec(txn)
                .await?;
            send_ledger::Entity::delete_many()
                .filter(these.and(Column::Bits.eq(0)))
                .exec(txn)
                .await?;
        }
    }
    Ok(())
}

/// Up to this many blocks, a ledger query also tests the wanted bits of each block.
const EXACT_BLOCKS: usize = 64;

/// Rows whose blocks hold any of `ids`. When the ids fall in a few blocks (a send to a
/// handful of subscribers), each block's test includes the wanted bits, so one
/// subscriber's rows are read without their neighbours'. A page's many blocks are read
/// whole: on a dense page they hold little else.
fn holding(conn: &impl ConnectionTrait, ids: &[i64]) -> Condition {
    use send_ledger::Column;
    let masks = bitmaps(ids.iter().copied());
    if masks.is_empty() || masks.len() > EXACT_BLOCKS {
        return Condition::all().add(ids_in(conn, Column::Block, &blocks_of(ids)));
    }
    masks
        .into_iter()
        .fold(Condition::any(), |any, (block, mask)| {
            any.add(Column::Block.eq(block).and(marks(Column::Bits, mask)))
        })
}

/// The ledger rows since `since` holding any of `ids`, selecting their block and bits
/// first; expand each with [`Wanted::marked`].
pub(crate) fn rows_near(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    since: DateTime<Utc>,
) -> sea_orm::Select<send_ledger::Entity> {
    use send_ledger::Column;
    send_ledger::Entity::find()
        .select_only()
        .columns([Column::Block, Column::Bits])
        .filter(holding(conn, ids))
        .filter(Column::SentAt.gte(since))
}

/// The subscribers a ledger query asked about.
pub(crate) struct Wanted(HashSet<i64>);

impl Wanted {
    pub(crate) fn new(ids: &[i64]) -> Self {
        Self(ids.iter().copied().collect())
    }

    /// The wanted subscribers a row's bits mark (a block may hold others too).
    pub(crate) fn marked(&self, block: i64, bits: i64) -> impl Iterator<Item = i64> + '_ {
        members(block, bits).filter(|id| self.0.contains(id))
    }

    /// The (subscriber, channel) pairs that rows of (block, bits, channel) mark.
    pub(crate) fn on_channels(&self, rows: Vec<(i64, i64, String)>) -> HashSet<(i64, ChannelKind)> {
        let mut pairs = HashSet::new();
        for (block, bits, channel) in rows {
            if let Some(channel) = ChannelKind::parse(&channel) {
                pairs.extend(self.marked(block, bits).map(|id| (id, channel)));
            }
        }
        pairs
    }
}

/// The (subscriber, channel) pairs among `ids` holding a slot of message `message_id`:
/// a page run again finds what it reserved before.
pub(crate) async fn reserved_for(
    txn: &impl ConnectionTrait,
    message_id: i64,
    ids: &[i64],
) -> Result<HashSet<(i64, ChannelKind)>> {
    use send_ledger::Column;
    let rows: Vec<(i64, i64, String)> = send_ledger::Entity::find()
        .select_only()
        .columns([Column::Block, Column::Bits, Column::Channel])
        .filter(Column::MessageId.eq(message_id))
        .filter(holding(txn, ids))
        .into_tuple()
        .all(txn)
        .await?;
    Ok(Wanted::new(ids).on_channels(rows))
}

/// How many slots the ledger holds, of one message and/or one subscriber when given:
/// what an operator (or a test) checks a cap against.
pub async fn slots_taken(
    conn: &impl ConnectionTrait,
    message_id: Option<i64>,
    subscriber_id: Option<i64>,
) -> Result<u64> {
    use send_ledger::Column;
    let mut query = send_ledger::Entity::find()
        .select_only()
        .column(Column::Bits);
    if let Some(message_id) = message_id {
        query = query.filter(Column::MessageId.eq(message_id));
    }
    let Some(subscriber_id) = subscriber_id else {
        let rows: Vec<i64> = query.into_tuple().all(conn).await?;
        return Ok(rows.iter().map(|bits| u64::from(bits.count_ones())).sum());
    };
    let (block, mask) = block_of(subscriber_id);
    let rows: Vec<i64> = query
        .filter(Column::Block.eq(block))
        .filter(marks(Column::Bits, mask))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.len() as u64)
}
