//! Planning a batch: the rules engine decides every (recipient, channel) of a message,
//! and the decisions become delivery rows, with a send-ledger slot reserved for each
//! delivery that will go out.
//!
//! Caps hold under concurrency because planning first locks the batch's subscribers
//! (Postgres: an advisory lock per block of 64 ids, in block order, so two batches
//! never deadlock; SQLite: the database's single write lock, taken before anything is
//! read). Whoever plans next
//! for the same subscriber counts the slots the previous planner reserved. Deferred
//! deliveries go through the same steps again when their time comes. Planning a
//! batch again (a retried job) finds its deliveries and plans only what is missing.

use foldhash::HashSet;
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::LockType;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement, TransactionSession, TransactionTrait,
};

use super::devices::{Devices, NO_ENDPOINT};
use super::displace::{allowed_candidates, make_room};
use super::ledger::{self, Slots};
use super::queue::Change;
use super::status::DeliveryStatus;
use crate::bulk::insert_all;
use crate::channel::ChannelKind;
use crate::db::{is_postgres, prefer_generic_plans};
use crate::entities::{delivery, message};
use crate::error::{Error, Result};
use crate::inbox::deliver::InboxSend;
use crate::rules::engine::{Candidate, Decision, Message, Recipient, RuleSet};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanSummary {
    pub queued: u64,
    pub filtered: u64,
    pub deferred: u64,
    /// Candidates that already had a delivery (the batch was planned before).
    pub already_planned: u64,
}

pub(crate) fn channels_of(message: &message::Model) -> Result<Vec<ChannelKind>> {
    serde_json::from_value(message.channels.clone())
        .map_err(|e| Error::invalid("channels", format!("stored channels unreadable: {e}")))
}

/// Postgres: key-share locks `messages` (in id order) before a planner of existing
/// messages takes its subscribers' planning locks. A recall locks its message for
/// update and writes its campaign's row, then takes its recipients' planning locks to
/// move their unread pairs; a planner that held planning locks and then read its
/// campaign's row would wait for the recall while the recall waited for it (Postgres
/// ends one as deadlocked). Call it while the transaction holds no other lock: the
/// worker's reconsidering does not, as it holds its due deliveries' rows, which a
/// recall cancels after locking its message.
pub(crate) async fn hold_messages(txn: &impl ConnectionTrait, ids: &[i64]) -> Result<()> {
    if !is_postgres(txn) || ids.is_empty() {
        return Ok(());
    }
    message::Entity::find()
        .select_only()
        .column(message::Column::Id)
        .filter(message::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(message::Column::Id)
        .lock(LockType::KeyShare)
        .into_tuple::<i64>()
        .all(txn)
        .await?;
    Ok(())
}

/// Whoever plans next for any of `ids` waits until `txn` ends, then counts the slots
/// reserved before. On Postgres: a transaction-scoped advisory lock per block of 64
/// subscribers, taken in block order (so two planners never deadlock). Row locks
/// (`FOR UPDATE`) did the same at the cost of a write and a WAL record per subscriber,
/// and sent every id back. SQLite serialises writers already (see
/// [`crate::db::begin_write`]).
pub(crate) async fn lock_subscribers(txn: &impl ConnectionTrait, ids: &[i64]) -> Result<()> {
    if !is_postgres(txn) || ids.is_empty() {
        return Ok(());
    }
    let blocks: BTreeSet<i64> = ids
        .iter()
        .map(|&id| crate::blocks::block_of(id).0)
        .collect();
    let blocks = blocks
        .into_iter()
        .map(|block| {
            i32::try_from(block).map_err(|_| Error::invalid("subscriber_id", "out of range"))
        })
        .collect::<Result<Vec<i32>>>()?;
    // A function scan over the array calls the lock function in the array's order.
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1, block) FROM unnest($2::int4[]) AS block",
        [PLANNING_LOCKS.into(), blocks.into()],
    ))
    .await?;
    Ok(())
}

/// The first key of the planners' advisory locks (the second is a block of subscribers):
/// "HPLN" in ASCII, apart from any other user of advisory locks.
pub const PLANNING_LOCKS: i32 = 0x4850_4C4E;

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
        endpoint_id: None,
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
        Decision::Deferred {
            until,
            rule_id,
            reason,
        } => {
            summary.deferred += 1;
            change.status = DeliveryStatus::Deferred.as_str();
            change.not_before = Some(until);
            change.rule_id = Some(rule_id);
            change.reason = reason;
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

/// What a delivery is unique by.
pub(crate) const DELIVERY_KEY: [delivery::Column; 4] = [
    delivery::Column::MessageId,
    delivery::Column::SubscriberId,
    delivery::Column::Channel,
    delivery::Column::EndpointId,
];

/// Inserts new deliveries; one that exists already (same message, subscriber, channel
/// and endpoint) is left as it is.
pub(crate) async fn insert_deliveries(
    txn: &impl ConnectionTrait,
    rows: Vec<delivery::ActiveModel>,
) -> Result<()> {
    insert_all(txn, rows, &DELIVERY_KEY).await
}

/// A delivery row as first written: queued, unattempted.
pub(crate) fn new_row(
    message_id: i64,
    subscriber_id: i64,
    channel: ChannelKind,
    endpoint_id: i64,
    now: DateTime<Utc>,
) -> delivery::ActiveModel {
    delivery::ActiveModel {
        message_id: Set(message_id),
        subscriber_id: Set(subscriber_id),
        channel: Set(channel.as_str().to_owned()),
        endpoint_id: Set(endpoint_id),
        status: Set(DeliveryStatus::Queued.as_str().to_owned()),
        filter: Set(None),
        rule_id: Set(None),
        list_entry_id: Set(None),
        reason: Set(None),
        not_before: Set(None),
        attempts: Set(0),
        first_attempt_at: Set(None),
        first_attempt_ms: Set(None),
        first_attempt_detail: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// The delivery rows and ledger slots that decisions on one message's candidates make.
struct Rows<'a> {
    message: &'a message::Model,
    devices: &'a Devices,
    now: DateTime<Utc>,
    deliveries: &'a mut Vec<delivery::ActiveModel>,
    slots: &'a mut Slots,
    /// Where allowed inbox deliveries go when the caller stores them in the same
    /// transaction (written then, in their final state); otherwise they are queued.
    inbox_sends: Option<&'a mut Vec<InboxSend>>,
}

impl Rows<'_> {
    fn add(
        mut self,
        candidates: &[Candidate<'_>],
        decided: Vec<Decision>,
        summary: &mut PlanSummary,
    ) {
        let (message, now) = (self.message, self.now);
        for (candidate, decision) in candidates.iter().zip(decided) {
            let change = change_for(0, decision, summary);
            let queued = change.status == DeliveryStatus::Queued.as_str();
            let (subscriber, channel) = (candidate.recipient.id, candidate.channel);
            if queued {
                self.slots.take(message, subscriber, channel, now);
            }
            if let (true, ChannelKind::Inbox, Some(sends)) =
                (queued, channel, self.inbox_sends.as_deref_mut())
            {
                sends.push(InboxSend {
                    message_id: message.id,
                    subscriber_id: subscriber,
                });
                continue;
            }
            // Allowed: one delivery per device. Otherwise the decision is about the
            // subscriber, and one row records it.
            let endpoints = if queued {
                self.devices.targets(subscriber, channel)
            } else {
                &[NO_ENDPOINT]
            };
            for &endpoint in endpoints {
                self.deliveries.push(delivery::ActiveModel {
                    status: Set(change.status.to_owned()),
                    filter: Set(change.filter.map(str::to_owned)),
                    rule_id: Set(change.rule_id),
                    list_entry_id: Set(change.list_entry_id),
                    reason: Set(change.reason.clone()),
                    not_before: Set(change.not_before),
                    ..new_row(message.id, subscriber, channel, endpoint, now)
                });
            }
        }
    }
}

pub(crate) fn candidates_of<'r>(
    recipients: &'r [Recipient],
    channels: &[ChannelKind],
) -> Vec<Candidate<'r>> {
    recipients
        .iter()
        .flat_map(|recipient| {
            channels.iter().map(move |channel| Candidate {
                recipient,
                channel: *channel,
            })
        })
        .collect()
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
    if recipients.is_empty() {
        return Ok(PlanSummary::default());
    }
    let txn = crate::db::begin_write(db).await?;
    let summary = plan_in(&txn, rules, message, recipients, now).await?;
    txn.commit().await?;
    Ok(summary)
}

/// [`plan_batch`] in `txn`, a write transaction.
pub async fn plan_in(
    txn: &impl ConnectionTrait,
    rules: &RuleSet,
    message: &message::Model,
    recipients: &[Recipient],
    now: DateTime<Utc>,
) -> Result<PlanSummary> {
    let mut summary = PlanSummary::default();
    if recipients.is_empty() {
        return Ok(summary);
    }
    let channels = channels_of(message)?;
    let ids: Vec<i64> = recipients.iter().map(|r| r.id).collect();
    prefer_generic_plans(txn).await?;
    hold_messages(txn, &[message.id]).await?;
    lock_subscribers(txn, &ids).await?;

    let planned: HashSet<(i64, ChannelKind)> = super::page::written_before(txn, message.id, &ids)
        .await?
        .into_iter()
        .map(|(id, channel, _)| (id, channel))
        .collect();
    let mut candidates = candidates_of(recipients, &channels);
    candidates.retain(|c| {
        let done = planned.contains(&(c.recipient.id, c.channel));
        if done {
            summary.already_planned += 1;
        }
        !done
    });

    let mut sorted = ids.clone();
    sorted.sort_unstable();
    let devices = Devices::load(txn, &sorted, &channels).await?;
    let decided = rules
        .evaluate_knowing(
            txn,
            engine_message(message),
            now,
            &candidates,
            &devices.addresses(),
        )
        .await?;
    let mut deliveries = Vec::with_capacity(candidates.len());
    let mut slots = Slots::default();
    let rows = Rows {
        message,
        devices: &devices,
        now,
        deliveries: &mut deliveries,
        slots: &mut slots,
        inbox_sends: None,
    };
    let allowed = allowed_candidates(&candidates, &decided);
    rows.add(&candidates, decided, &mut summary);

    insert_deliveries(txn, deliveries).await?;
    ledger::write(txn, slots).await?;
    make_room(txn, rules, message, &allowed, now).await?;
    Ok(summary)
}

/// A new message and the recipients to plan it for.
pub struct NewMessage<'a> {
    pub message: &'a message::Model,
    pub recipients: &'a [Recipient],
    /// The caller stores this message's allowed inbox deliveries in the planning
    /// transaction: they come back as [`Plans::inbox_sends`] rather than queued.
    pub stores_inbox: bool,
}

/// What [`plan_messages`] decided.
#[derive(Debug, Default)]
pub struct Plans {
    /// One per message, in order.
    pub summaries: Vec<PlanSummary>,
    /// Allowed inbox deliveries of messages that store them, not yet written (their
    /// ledger slots are reserved): write them with [`crate::inbox::deliver::store_now`].
    pub inbox_sends: Vec<InboxSend>,
}

/// Plans messages that have no deliveries yet, in `txn` (a write transaction), deciding
/// at `now`; one summary per message, in order. Messages alike in category, template
/// and dedup key are decided together, so the rules read their facts once per kind of
/// message rather than once per message, and a cap or dedup rule still counts the
/// earlier messages of the batch.
pub async fn plan_messages(
    txn: &impl ConnectionTrait,
    rules: &RuleSet,
    messages: &[NewMessage<'_>],
    now: DateTime<Utc>,
) -> Result<Plans> {
    let mut summaries = vec![PlanSummary::default(); messages.len()];
    let mut inbox_sends = Vec::new();
    let mut ids: Vec<i64> = messages
        .iter()
        .flat_map(|m| m.recipients.iter().map(|r| r.id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Plans {
            summaries,
            inbox_sends,
        });
    }
    prefer_generic_plans(txn).await?;
    lock_subscribers(txn, &ids).await?;

    let mut kinds: Vec<(Message<'_>, Vec<usize>)> = Vec::new();
    for (index, new) in messages.iter().enumerate() {
        let kind = engine_message(new.message);
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, members)) => members.push(index),
            None => kinds.push((kind, vec![index])),
        }
    }
    let channels: Vec<ChannelKind> = messages
        .iter()
        .map(|m| channels_of(m.message))
        .collect::<Result<Vec<_>>>()?
        .concat();
    let devices = Devices::load(txn, &ids, &channels).await?;
    let mut deliveries = Vec::new();
    for (kind, members) in kinds {
        let mut candidates = Vec::new();
        let mut counts = Vec::with_capacity(members.len());
        for &index in &members {
            let new = &messages[index];
            let before = candidates.len();
            candidates.extend(candidates_of(new.recipients, &channels_of(new.message)?));
            counts.push(candidates.len() - before);
        }
        let decided = rules.evaluate(txn, kind, now, &candidates).await?;
        let allowed = allowed_candidates(&candidates, &decided);
        let mut decided = decided.into_iter();
        let mut slots = Slots::default();
        let mut from = 0;
        for (&index, count) in members.iter().zip(counts) {
            let new = &messages[index];
            let rows = Rows {
                message: new.message,
                devices: &devices,
                now,
                deliveries: &mut deliveries,
                slots: &mut slots,
                inbox_sends: new.stores_inbox.then_some(&mut inbox_sends),
            };
            let mine = decided.by_ref().take(count).collect();
            rows.add(&candidates[from..from + count], mine, &mut summaries[index]);
            from += count;
        }
        // The next kind's caps count these.
        ledger::write(txn, slots).await?;
        if let Some(&first) = members.first() {
            make_room(txn, rules, messages[first].message, &allowed, now).await?;
        }
    }
    insert_deliveries(txn, deliveries).await?;
    Ok(Plans {
        summaries,
        inbox_sends,
    })
}
