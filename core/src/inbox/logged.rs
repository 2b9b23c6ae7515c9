//! The delivery rows of inbox sends stored now, written by one statement whose text
//! and parameter count do not depend on how many there are (see [`IntRows`]).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult, Statement, Value};

use super::deliver::InboxSend;
use crate::bulk::IntRows;
use crate::channel::ChannelKind;
use crate::deliveries::DeliveryStatus;
use crate::deliveries::devices::NO_ENDPOINT;
use crate::error::Result;

/// A delivery row [`log_delivered`] inserted.
#[derive(Debug, FromQueryResult)]
pub(crate) struct Logged {
    pub id: i64,
    pub message_id: i64,
    pub subscriber_id: i64,
}

/// Inserts each of `sends` as an inbox delivery delivered at `now` at its first
/// attempt (which took `millis`, described by `detail`), and answers the rows it
/// inserted: a send logged before is skipped.
pub(crate) async fn log_delivered(
    txn: &impl ConnectionTrait,
    sends: &[InboxSend],
    now: DateTime<Utc>,
    millis: i32,
    detail: &str,
) -> Result<Vec<Logged>> {
    if sends.is_empty() {
        return Ok(Vec::new());
    }
    let pairs: Vec<[i64; 2]> = sends
        .iter()
        .map(|send| [send.message_id, send.subscriber_id])
        .collect();
    let rows = IntRows::new(txn, &pairs);
    let p = |n| rows.param(n);
    // The columns left out keep their defaults (null). The WHERE keeps SQLite's parser
    // from reading `ON CONFLICT` as a join's ON.
    let sql = format!(
        "INSERT INTO deliveries (message_id, subscriber_id, channel, endpoint_id, status, \
         attempts, first_attempt_at, first_attempt_ms, first_attempt_detail, created_at, \
         updated_at) \
         SELECT r.a, r.b, {channel}, {endpoint}, {status}, 1, {now}, {millis}, {detail}, \
         {now}, {now} FROM {source} WHERE true \
         ON CONFLICT (message_id, subscriber_id, channel, endpoint_id) DO NOTHING \
         RETURNING id, message_id, subscriber_id",
        channel = p(1),
        endpoint = p(2),
        status = p(3),
        now = p(4),
        millis = p(5),
        detail = p(6),
        source = rows.source(),
    );
    let values: [Value; 6] = [
        ChannelKind::Inbox.as_str().into(),
        NO_ENDPOINT.into(),
        DeliveryStatus::Delivered.as_str().into(),
        now.into(),
        millis.into(),
        detail.into(),
    ];
    let statement =
        Statement::from_sql_and_values(txn.get_database_backend(), sql, rows.values(values));
    Ok(Logged::find_by_statement(statement).all(txn).await?)
}
