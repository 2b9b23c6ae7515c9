//! The delivery log as CSV, read in keyset pages: memory holds one page whatever the
//! log's size, and each page goes out as soon as it is encoded.

use futures::{Stream, StreamExt, stream};
use sea_orm::DatabaseConnection;

use super::csv::{PAGE, encode, instant, text};
use crate::deliveries::log::{self, DeliveryEntry, DeliveryFilter};
use crate::error::Result;

const DELIVERY_HEADER: [&str; 13] = [
    "id",
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

fn delivery_record(d: &DeliveryEntry) -> [String; 13] {
    [
        d.id.to_string(),
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

/// Where the next page starts: below the last id of a full page; none after a short one.
fn next_page(page: &[DeliveryEntry]) -> Option<i64> {
    if page.len() as u64 == PAGE {
        page.last().map(|d| d.id)
    } else {
        None
    }
}

/// The delivery log matching `filter` as CSV, newest first from below `before_id` (the
/// same order and filters as the JSON log), one query per [`PAGE`] deliveries. The
/// first page is read before this returns, so a failing query is an error answer rather
/// than a truncated file; later failures end the stream with an error.
pub async fn delivery_log_csv(
    conn: DatabaseConnection,
    filter: DeliveryFilter,
    before_id: Option<i64>,
) -> Result<impl Stream<Item = Result<Vec<u8>>> + Send + 'static> {
    let first = log::list(&conn, &filter, before_id, PAGE).await?;
    let head = encode(
        std::iter::once(DELIVERY_HEADER.map(str::to_owned))
            .chain(first.iter().map(delivery_record)),
    )
    .await?;
    let rest = stream::try_unfold(
        (conn, filter, next_page(&first)),
        |(conn, filter, before)| async move {
            let Some(before) = before else {
                return Ok(None);
            };
            let page = log::list(&conn, &filter, Some(before), PAGE).await?;
            let chunk = encode(page.iter().map(delivery_record)).await?;
            Ok(Some((chunk, (conn, filter, next_page(&page)))))
        },
    );
    Ok(stream::iter([Ok(head)]).chain(rest))
}
