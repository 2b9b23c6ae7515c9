//! The delivery log as CSV, read in keyset pages: memory holds one page whatever the
//! log's size, and each page goes out as soon as it is encoded.

use futures::{Stream, StreamExt, stream};
use sea_orm::DatabaseConnection;

use super::csv::{PAGE, encode, instant, text};
use crate::deliveries::log::{self, DeliveryEntry, DeliveryFilter, LogCursor};
use crate::error::Result;

const DELIVERY_HEADER: [&str; 14] = [
    "id",
    "item_id",
    "message_id",
    "recipient",
    "channel",
    "status",
    "filter",
    "rule_id",
    "list_entry_id",
    "reason",
    "attempts",
    "not_before",
    "created_at",
    "updated_at",
];

fn delivery_record(d: &DeliveryEntry) -> [String; 14] {
    [
        text(d.id),
        text(d.item_id),
        d.message_id.to_string(),
        d.recipient.clone(),
        d.channel.clone(),
        d.status.clone(),
        text(d.filter.as_ref()),
        text(d.rule_id),
        text(d.list_entry_id),
        text(d.reason.as_ref()),
        d.attempts.to_string(),
        text(d.not_before.map(instant)),
        instant(d.created_at),
        instant(d.updated_at),
    ]
}

/// The delivery log matching `filter` as CSV, newest first from `from` (the same order
/// and filters as the JSON log), one query per [`PAGE`] deliveries. The first page is
/// read before this returns, so a failing query is an error answer rather than a
/// truncated file; later failures end the stream with an error.
pub async fn delivery_log_csv(
    conn: DatabaseConnection,
    filter: DeliveryFilter,
    from: LogCursor,
) -> Result<impl Stream<Item = Result<Vec<u8>>> + Send + 'static> {
    let (first, next) = log::list(&conn, &filter, from, PAGE).await?;
    let head = encode(
        std::iter::once(DELIVERY_HEADER.map(str::to_owned))
            .chain(first.iter().map(delivery_record)),
    )
    .await?;
    let rest = stream::try_unfold((conn, filter, next), |(conn, filter, from)| async move {
        let Some(from) = from else {
            return Ok(None);
        };
        let (page, next) = log::list(&conn, &filter, from, PAGE).await?;
        let chunk = encode(page.iter().map(delivery_record)).await?;
        Ok(Some((chunk, (conn, filter, next))))
    });
    Ok(stream::iter([Ok(head)]).chain(rest))
}
