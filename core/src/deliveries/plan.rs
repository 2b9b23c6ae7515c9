//! Planning a batch: the rules engine decides every (recipient, channel) of a message,
//! and the decisions become delivery rows, with a send-ledger slot reserved for each
//! delivery that will go out.
//!
//! Caps hold under concurrency because planning first locks the batch's subscribers
//! (Postgres: `FOR UPDATE` in id order, so two batches never deadlock; SQLite: the
//! database's single write lock, taken before anything is read). Whoever plans next
//! for the same subscriber counts the slots the previous planner reserved. Deferred
//! deliveries go through the same steps again when their time comes. Planning a
//! batch again (a retried job) finds its deliveries and plans only what is missing.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionSession, TransactionTrait,
};

use super::queue::Change;
use super::status::DeliveryStatus;
use crate::bulk::insert_all;
use crate::channel::ChannelKind;
use crate::db::{ids_in, is_postgres, one_of, prefer_generic_plans};
use crate::entities::{delivery, message, send_ledger, subscriber};
use crate::error::{Error, Result};
use crate::rules::engine::{Candidate, Decision, Message, Recipient, RuleSet};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanSummary {
    pub queued: u64,
    pub filtered: u64,
    pub deferred: u64,
    /// Candidates that already had a delivery (the batch was planned before).
    pub already_planned: u64,
}

fn channels_of(message: &message::Model) -> Result<Vec<ChannelKind>> {
    serde_json::from_value(message.channels.clone())
        .map_err(|e| Error::invalid("channels", format!("stored channels unreadable: {e}")))
}

/// Postgres: locks the subscribers' rows in id order (so two batches never deadlock);
/// whoever plans next for them waits, then counts the slots reserved before. SQLite
/// serialises writers already (see [`crate::db::begin_write`]).
pub(crate) async fn lock_subscribers(txn: &impl ConnectionTrait, ids: &[i64]) -> Result<()> {
    if is_postgres(txn) {
        subscriber::Entity::find()
            .select_only()
            .column(subscriber::Column::Id)
            .filter(one_of(txn, subscriber::Column::Id, ids.to_vec()))
            .order_by_asc(subscriber::Column::Id)
            .lock_exclusive()
            .into_tuple::<i64>()
            .all(txn)
            .await?;
    }
    Ok(())
}

/// The send-ledger slot an allowed delivery takes.
pub(crate) fn slot(
    message: &message::Model,
    subscriber_id: i64,
    channel: ChannelKind,
    now: DateTime<Utc>,
) -> send_ledger::ActiveModel {
    send_ledger::ActiveModel {
        subscriber_id: Set(subscriber_id),
        channel: Set(channel.as_str().to_owned()),
        category: Set(message.category.clone()),
        template_id: Set(message.template_id),
        dedup_key: Set(message.dedup_key.clone()),
        sent_at: Set(now),
        ..Default::default()
    }
}

/// The state a decision leaves a delivery in, counted in `summary`.
pub(crate) fn change_for(id: i64, decision: Decision, summary: &mut PlanSummary) -> Change {
    let mut change = Change {
        id,
        status: DeliveryStatus::Queued.as_str(),
        not_before: None,
        reason: None,
        filter: None,
        rule_id: None,
        list_entry_id: None,
    };
    match decision {
        Decision::Allow => summary.queued += 1,
        Decision::Filtered {
            filter,
            rule_id,
            list_entry_id,
            reason,
        } => {
            summary.filtered += 1;
            change.status = DeliveryStatus::Filtered.as_str();
            change.reason = Some(reason);
            change.filter = Some(filter.as_str());
            change.rule_id = rule_id;
            change.list_entry_id = list_entry_id;
        }
        Decision::Deferred { until, rule_id } => {
            summary.deferred += 1;
            change.status = DeliveryStatus::Deferred.as_str();
            change.not_before = Some(until);
            change.rule_id = Some(rule_id);
        }
    }
    change
}

pub(crate) fn engine_message(message: &message::Model) -> Message<'_> {
    Message {
        category: &message.category,
        template_id: message.template_id,
        dedup_key: message.dedup_key.as_deref(),
    }
}

/// Inserts new deliveries; one that exists already (same message, subscriber and
/// channel) is left as it is.
pub(crate) async fn insert_deliveries(
    txn: &impl ConnectionTrait,
    rows: Vec<delivery::ActiveModel>,
) -> Result<()> {
    insert_all(
        txn,
        rows,
        &[
            delivery::Column::MessageId,
            delivery::Column::SubscriberId,
            delivery::Column::Channel,
        ],
    )
    .await
}

pub(crate) async fn insert_slots(
    txn: &impl ConnectionTrait,
    slots: Vec<send_ledger::ActiveModel>,
) -> Result<()> {
    insert_all(txn, slots, &[]).await
}

/// Plans `recipients` on every channel of `message`, deciding at `now`.
pub async fn plan_batch<C>(
    db: &C,
    rules: &RuleSet,
    message: &message::Model,
    recipients: &[Recipient],
    now: DateTime<Utc>,
) -> Result<PlanSummary>
where
    C: ConnectionTrait + TransactionTrait,
{
    let mut summary = PlanSummary::default();
    if recipients.is_empty() {
        return Ok(summary);
    }
    let channels = channels_of(message)?;
    let ids: Vec<i64> = recipients.iter().map(|r| r.id).collect();

    let txn = crate::db::begin_write(db).await?;
    prefer_generic_plans(&txn).await?;
    lock_subscribers(&txn, &ids).await?;

    let planned: HashSet<(i64, ChannelKind)> = delivery::Entity::find()
        .select_only()
        .columns([delivery::Column::SubscriberId, delivery::Column::Channel])
        .filter(delivery::Column::MessageId.eq(message.id))
        .filter(ids_in(&txn, delivery::Column::SubscriberId, &ids))
        .into_tuple::<(i64, String)>()
        .all(&txn)
        .await?
        .into_iter()
        .filter_map(|(id, channel)| Some((id, ChannelKind::parse(&channel)?)))
        .collect();
    let candidates: Vec<Candidate<'_>> = recipients
        .iter()
        .flat_map(|recipient| {
            channels.iter().map(move |channel| Candidate {
                recipient,
                channel: *channel,
            })
        })
        .filter(|c| {
            let done = planned.contains(&(c.recipient.id, c.channel));
            if done {
                summary.already_planned += 1;
            }
            !done
        })
        .collect();

    let decided = rules
        .evaluate(&txn, engine_message(message), now, &candidates)
        .await?;

    let mut deliveries = Vec::with_capacity(candidates.len());
    let mut slots = Vec::new();
    for (candidate, decision) in candidates.iter().zip(decided) {
        let change = change_for(0, decision, &mut summary);
        if change.status == DeliveryStatus::Queued.as_str() {
            slots.push(slot(
                message,
                candidate.recipient.id,
                candidate.channel,
                now,
            ));
        }
        deliveries.push(delivery::ActiveModel {
            message_id: Set(message.id),
            subscriber_id: Set(candidate.recipient.id),
            channel: Set(candidate.channel.as_str().to_owned()),
            status: Set(change.status.to_owned()),
            filter: Set(change.filter.map(str::to_owned)),
            rule_id: Set(change.rule_id),
            list_entry_id: Set(change.list_entry_id),
            reason: Set(change.reason),
            not_before: Set(change.not_before),
            attempts: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
    }

    insert_deliveries(&txn, deliveries).await?;
    insert_slots(&txn, slots).await?;
    txn.commit().await?;
    Ok(summary)
}
