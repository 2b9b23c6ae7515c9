//! Putting off the queued lower-class sends a budget displaced for higher ones (see
//! [`crate::rules::engine::Displaced`]): their rows become deferred until the budget's
//! next window, with the reason in their trace, and their ledger slots are given back.

use foldhash::{HashMap, HashMapExt};
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};

use super::ledger;
use super::plan::engine_message;
use super::queue::RECORD_CHUNK;
use super::status::DeliveryStatus;
use crate::entities::{delivery, message};
use crate::error::Result;
use crate::rules::engine::{Candidate, Decision, Displaced, RuleSet};

/// The candidates that `decided` allowed.
pub(crate) fn allowed_candidates<'r>(
    candidates: &[Candidate<'r>],
    decided: &[Decision],
) -> Vec<Candidate<'r>> {
    candidates
        .iter()
        .zip(decided)
        .filter(|(_, decision)| matches!(decision, Decision::Allow))
        .map(|(candidate, _)| *candidate)
        .collect()
}

/// After `allowed` sends of `message` reserved their slots in `txn` (which holds their
/// subscribers' locks), puts off the queued lower-class sends they displace; returns
/// how many sends were put off.
pub(crate) async fn make_room(
    txn: &impl ConnectionTrait,
    rules: &RuleSet,
    message: &message::Model,
    allowed: &[Candidate<'_>],
    now: DateTime<Utc>,
) -> Result<u64> {
    if allowed.is_empty() {
        return Ok(0);
    }
    let displaced = rules
        .displaced_by(txn, engine_message(message), now, allowed)
        .await?;
    let mut groups: BTreeMap<(DateTime<Utc>, i64, &str), Vec<&Displaced>> = BTreeMap::new();
    for send in &displaced {
        groups
            .entry((send.until, send.rule_id, send.reason.as_str()))
            .or_default()
            .push(send);
    }
    let mut put_off = 0;
    for ((until, rule_id, reason), sends) in groups {
        for chunk in sends.chunks(RECORD_CHUNK) {
            put_off += defer(txn, chunk, until, rule_id, reason, now).await?;
        }
    }
    Ok(put_off)
}

/// Defers the rows of `sends` that still wait unattempted, and gives back the slot of
/// each send whose every row was deferred (a row claimed meanwhile keeps its slot).
async fn defer(
    txn: &impl ConnectionTrait,
    sends: &[&Displaced],
    until: DateTime<Utc>,
    rule_id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64> {
    let keys = sends.iter().fold(Condition::any(), |keys, send| {
        keys.add(
            Condition::all()
                .add(delivery::Column::MessageId.eq(send.message_id))
                .add(delivery::Column::SubscriberId.eq(send.subscriber_id))
                .add(delivery::Column::Channel.eq(send.channel.as_str())),
        )
    });
    let rows = delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Status,
            Expr::value(DeliveryStatus::Deferred.as_str()),
        )
        .col_expr(delivery::Column::NotBefore, Expr::value(until))
        .col_expr(delivery::Column::RuleId, Expr::value(rule_id))
        .col_expr(delivery::Column::Reason, Expr::value(reason))
        .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
        .filter(keys)
        .filter(delivery::Column::Status.eq(DeliveryStatus::Queued.as_str()))
        .filter(delivery::Column::Attempts.eq(0))
        .exec_with_returning(txn)
        .await?;
    let mut deferred: HashMap<(i64, i64, &str), u64> = HashMap::new();
    for row in &rows {
        *deferred
            .entry((row.message_id, row.subscriber_id, row.channel.as_str()))
            .or_default() += 1;
    }
    let whole: Vec<(i64, i64, &str)> = sends
        .iter()
        .map(|s| ((s.message_id, s.subscriber_id, s.channel.as_str()), s.rows))
        .filter(|(key, rows)| deferred.get(key) == Some(rows))
        .map(|(key, _)| key)
        .collect();
    ledger::release(txn, &whole).await?;
    Ok(whole.len() as u64)
}
