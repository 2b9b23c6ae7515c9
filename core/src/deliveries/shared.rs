//! The delivery log's shared entries (ADR 0003): a shared inbox item's delivered
//! recipients have no delivery row; the item's share bits are their entries, dated by
//! the item, status delivered, channel inbox, one attempt. Held-back and failed
//! recipients keep their rows (the exclusions). `inbox_items.logged_recipients` counts
//! an item's entries, so aggregates add a column rather than count bits; an item with
//! none (stored with a row per recipient, or pruned to the totals) is no log entry.

use foldhash::{HashSet, HashSetExt};

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, FromQueryResult, Statement};

use crate::blocks::{block_of, blocks_of, marks, members};
use crate::db::ids_in;
use crate::entities::{inbox_item, inbox_share};
use crate::error::Result;

/// What the one attempt of a shared entry says (as the rows of personal items do).
pub(crate) const STORED: &str = "stored in the subscriber's inbox";

/// Share rows of items that are log entries, joined to their item.
pub(crate) fn logged_shares() -> SelectStatement {
    let (items, shares) = (inbox_item::Entity, inbox_share::Entity);
    Query::select()
        .from(shares)
        .inner_join(
            items,
            Expr::col((items, inbox_item::Column::Id))
                .equals((shares, inbox_share::Column::ItemId)),
        )
        .and_where(Expr::col((items, inbox_item::Column::LoggedRecipients)).gt(0))
        .to_owned()
}

#[derive(Debug, FromQueryResult)]
struct Bits {
    block: i64,
    bits: i64,
}

/// Those of `ids` that have a shared entry for message `message_id`: decided before,
/// like the recipients with a row.
pub(crate) async fn decided_among(
    conn: &impl ConnectionTrait,
    message_id: i64,
    ids: &[i64],
) -> Result<HashSet<i64>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let mut query = logged_shares();
    query
        .column((inbox_share::Entity, inbox_share::Column::Block))
        .column((inbox_share::Entity, inbox_share::Column::Bits))
        .and_where(Expr::col((inbox_item::Entity, inbox_item::Column::MessageId)).eq(message_id))
        .and_where(ids_in(
            conn,
            (inbox_share::Entity, inbox_share::Column::Block),
            &blocks_of(ids),
        ));
    let statement = conn.get_database_backend().build(&query);
    let marked: HashSet<i64> = Bits::find_by_statement(statement)
        .all(conn)
        .await?
        .into_iter()
        .flat_map(|row| members(row.block, row.bits))
        .collect();
    Ok(ids
        .iter()
        .copied()
        .filter(|id| marked.contains(id))
        .collect())
}

/// How many shared entries message `message_id` has.
pub(crate) async fn count_of_message(conn: &impl ConnectionTrait, message_id: i64) -> Result<u64> {
    // Postgres sums bigints as numeric.
    let query = Query::select()
        .expr_as(
            Expr::cust(r#"CAST(COALESCE(SUM("logged_recipients"), 0) AS BIGINT)"#),
            Alias::new("count"),
        )
        .from(inbox_item::Entity)
        .and_where(inbox_item::Column::MessageId.eq(message_id))
        .and_where(inbox_item::Column::LoggedRecipients.gt(0))
        .to_owned();
    let count: i64 = match conn.query_one(&query).await? {
        Some(row) => row.try_get("", "count")?,
        None => 0,
    };
    Ok(u64::try_from(count).unwrap_or(0))
}

/// A deleted subscriber's shared entries become rows, as every other delivery of theirs
/// stays in the log (anonymised by its numeric id): their bits are then cleared, and
/// the items count them no more. Set-based: one insert and one update.
pub(crate) async fn keep_as_rows(txn: &impl ConnectionTrait, subscriber_id: i64) -> Result<()> {
    let (block, mask) = block_of(subscriber_id);
    let backend = txn.get_database_backend();
    let p = |n: usize| match backend {
        sea_orm::DbBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    };
    // The WHERE keeps SQLite's parser from reading `ON CONFLICT` as the join's ON.
    let sql = format!(
        "INSERT INTO deliveries (message_id, subscriber_id, channel, endpoint_id, status, \
         attempts, first_attempt_at, first_attempt_ms, first_attempt_detail, created_at, \
         updated_at) \
         SELECT i.message_id, {subscriber}, {channel}, {endpoint}, {status}, 1, i.created_at, \
         0, {detail}, i.created_at, i.created_at \
         FROM inbox_shares s JOIN inbox_items i ON i.id = s.item_id \
         WHERE s.block = {block} AND (s.bits & {mask}) <> 0 AND i.logged_recipients > 0 \
         AND i.message_id IS NOT NULL \
         ON CONFLICT (message_id, subscriber_id, channel, endpoint_id) DO NOTHING",
        subscriber = p(1),
        channel = p(2),
        endpoint = p(3),
        status = p(4),
        detail = p(5),
        block = p(6),
        mask = p(7),
    );
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [
            subscriber_id.into(),
            crate::channel::ChannelKind::Inbox.as_str().into(),
            super::devices::NO_ENDPOINT.into(),
            super::DeliveryStatus::Delivered.as_str().into(),
            STORED.into(),
            block.into(),
            mask.into(),
        ],
    ))
    .await?;
    let theirs = Query::select()
        .column(inbox_share::Column::ItemId)
        .from(inbox_share::Entity)
        .and_where(inbox_share::Column::Block.eq(block))
        .and_where(marks(inbox_share::Column::Bits, mask))
        .to_owned();
    let update = Query::update()
        .table(inbox_item::Entity)
        .value(
            inbox_item::Column::LoggedRecipients,
            Expr::col(inbox_item::Column::LoggedRecipients).sub(1),
        )
        .and_where(inbox_item::Column::LoggedRecipients.gt(0))
        .and_where(inbox_item::Column::Id.in_subquery(theirs))
        .to_owned();
    txn.execute(&update).await?;
    Ok(())
}
