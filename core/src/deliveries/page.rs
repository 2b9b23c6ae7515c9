//! A page of recipients sent in one go, each delivery written once.
//!
//! [`reserve`] decides every (recipient, channel) of the page with the rules engine and
//! reserves a send-ledger slot for each delivery that may go now, under the
//! subscribers' locks (so caps stay exact with several workers). Those deliveries are
//! not written yet: they come back as rows to send, and [`record_first`] writes each
//! in its final state with its first attempt once the caller has sent it (a batch at a
//! time). On the happy
//! path a delivered recipient costs two row writes: its ledger slot and its delivery.
//! What must wait (a deferral, a paused campaign, a retry) is written as a due row.
//!
//! A page run again after a crash skips recipients that already have a delivery, finds
//! the slots it reserved before (by message) and sends those again, with the same
//! idempotency key, rather than counting them against a cap.

use foldhash::{HashMap, HashSet, HashSetExt};

use chrono::{DateTime, Utc};
use herald_channels::DeliveryOutcome;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect, TransactionSession, TransactionTrait, TryIntoModel,
};

use super::devices::{Devices, NO_ENDPOINT};
use super::displace::{allowed_candidates, make_room};
use super::ledger::{self, Slots};
use super::plan::{
    PlanSummary, candidates_of, change_for, channels_of, engine_message, hold_messages,
    insert_deliveries, lock_subscribers, new_row,
};
use super::queue::{
    Attempt, Change, QUEUE_STATEMENT_TIMEOUT, RECORD_CHUNK, Recorded, RetryPolicy,
    limit_statement_time, update_each,
};
use super::status::DeliveryStatus;
use crate::bulk::copy_all;
use crate::campaigns::Status;
use crate::channel::ChannelKind;
use crate::db::{ids_in, is_postgres, one_of, prefer_generic_plans};
use crate::entities::{campaign, delivery, message, subscriber, subscriber_endpoint};
use crate::error::{Error, Result};
use crate::events::outbox::Interest;
use crate::events::{EventType, Occurred};
use crate::inbox::deliver::{InboxSend, Planned, store_now};
use crate::inbox::store::Stored;
use crate::rules::engine::{Decision, FilterKind, Recipient, RuleSet};
use crate::rules::{KeywordHit, KeywordRules};
use crate::templates::render::CompiledContent;

/// What a page is decided with.
pub struct PageInput<'a> {
    pub rules: &'a RuleSet,
    pub message: &'a message::Model,
    pub recipients: &'a [Recipient],
    pub now: DateTime<Utc>,
    /// The campaign the message belongs to. Its allowed deliveries go now only while it
    /// runs; otherwise (paused) they are written as queued rows and wait.
    pub campaign_id: Option<i64>,
    /// The message's inbox content: its allowed inbox deliveries are stored in the
    /// reserving transaction (storing is the whole send). Without it they wait queued
    /// and the queue's senders fail each with the reason.
    pub inbox: Option<&'a CompiledContent>,
    /// The keyword rules each inbox item stored now is checked against.
    pub keywords: &'a KeywordRules,
    /// The recipients' rows, which inbox items stored now are rendered for.
    pub subscribers: &'a HashMap<i64, subscriber::Model>,
    /// Nothing of these recipients was decided for this message before (a page's first
    /// run): the lookups of earlier deliveries and slots are skipped.
    pub first_run: bool,
}

/// What [`reserve`] decided.
#[derive(Debug, Default)]
pub struct Reserved {
    /// Deliveries to send now, not yet written (their `id` is 0); record what sending
    /// each did with [`record_first`].
    pub to_send: Vec<delivery::Model>,
    pub summary: PlanSummary,
    /// Inbox items stored: announce them on the bus.
    pub stored: Vec<Stored>,
    /// The recipients' enabled endpoints on the message's channels, oldest first.
    pub endpoints: Vec<subscriber_endpoint::Model>,
}

/// Decides a page and reserves the slots of what goes now, in one write transaction.
/// On Postgres the rows of what does not go now (held back, deferred, waiting on a
/// paused campaign) are copied in right after it: a page run again before they land
/// decides those recipients again, as none of them has a delivery yet, and the slots of
/// the waiting ones are found as its own.
pub async fn reserve(db: &DatabaseConnection, input: PageInput<'_>) -> Result<Reserved> {
    let PageInput {
        rules,
        message,
        recipients,
        now,
        campaign_id,
        inbox,
        keywords,
        subscribers,
        first_run,
    } = input;
    let mut reserved = Reserved::default();
    if recipients.is_empty() {
        return Ok(reserved);
    }
    let channels = channels_of(message)?;
    let ids: Vec<i64> = recipients.iter().map(|r| r.id).collect();
    let txn = crate::db::begin_write(db).await?;
    limit_statement_time(&txn, QUEUE_STATEMENT_TIMEOUT).await?;
    prefer_generic_plans(&txn).await?;
    hold_messages(&txn, &[message.id]).await?;
    lock_subscribers(&txn, &ids).await?;
    let send_now = match campaign_id {
        Some(id) => still_running(&txn, id).await?,
        None => true,
    };

    let (written, slotted) = if first_run {
        (HashSet::new(), HashSet::new())
    } else {
        decided_before(&txn, message.id, &ids).await?
    };

    // A pair decided before is done, unless it holds a slot: then it was allowed, and
    // its endpoints not yet written are sent below.
    let decided_pairs: HashSet<(i64, ChannelKind)> =
        written.iter().map(|&(s, c, _)| (s, c)).collect();
    let mut candidates = candidates_of(recipients, &channels);
    candidates.retain(|c| {
        let pair = (c.recipient.id, c.channel);
        let done = decided_pairs.contains(&pair) && !slotted.contains(&pair);
        if done {
            reserved.summary.already_planned += 1;
        }
        !done
    });
    // Slots this page reserved in an earlier run are its own: decided already.
    let (again, fresh): (Vec<_>, Vec<_>) = candidates
        .into_iter()
        .partition(|c| slotted.contains(&(c.recipient.id, c.channel)));
    let devices = Devices::load(&txn, &ids, &channels).await?;
    let decided = rules
        .evaluate_knowing(
            &txn,
            engine_message(message),
            now,
            &fresh,
            &devices.addresses(),
        )
        .await?;

    let displacing = allowed_candidates(&fresh, &decided);
    let mut rows = Vec::new();
    let mut slots = Slots::default();
    let mut allowed: Vec<(i64, ChannelKind)> =
        again.iter().map(|c| (c.recipient.id, c.channel)).collect();
    for (candidate, decision) in fresh.iter().zip(decided) {
        if matches!(decision, Decision::Allow) {
            slots.take(message, candidate.recipient.id, candidate.channel, now);
            allowed.push((candidate.recipient.id, candidate.channel));
            continue;
        }
        let change = change_for(0, decision, &mut reserved.summary);
        rows.push(delivery::ActiveModel {
            status: Set(change.status.to_owned()),
            filter: Set(change.filter.map(str::to_owned)),
            rule_id: Set(change.rule_id),
            list_entry_id: Set(change.list_entry_id),
            reason: Set(change.reason),
            not_before: Set(change.not_before),
            ..new_row(
                message.id,
                candidate.recipient.id,
                candidate.channel,
                NO_ENDPOINT,
                now,
            )
        });
    }

    let mut inbox_sends = Vec::new();
    for (subscriber_id, channel) in allowed {
        for &endpoint in devices.targets(subscriber_id, channel) {
            if written.contains(&(subscriber_id, channel, endpoint)) {
                reserved.summary.already_planned += 1;
                continue;
            }
            reserved.summary.queued += 1;
            match (send_now, channel, inbox) {
                (true, ChannelKind::Inbox, Some(_)) => inbox_sends.push(InboxSend {
                    message_id: message.id,
                    subscriber_id,
                }),
                // Without inbox content, the queue's sender fails it with the reason.
                (true, ChannelKind::Inbox, None) | (false, _, _) => {
                    rows.push(delivery::ActiveModel {
                        status: Set(DeliveryStatus::Queued.as_str().to_owned()),
                        ..new_row(message.id, subscriber_id, channel, endpoint, now)
                    });
                }
                (true, _, _) => reserved.to_send.push(to_send(
                    message.id,
                    subscriber_id,
                    channel,
                    endpoint,
                    now,
                )?),
            }
        }
    }
    ledger::write(&txn, slots).await?;
    make_room(&txn, rules, message, &displacing, now).await?;
    let copy_later = is_postgres(db);
    if !copy_later {
        insert_deliveries(&txn, std::mem::take(&mut rows)).await?;
    }
    if let Some(content) = inbox {
        let planned = Planned { message, content };
        reserved.stored = store_now(&txn, &[planned], &inbox_sends, subscribers, keywords, now)
            .await?
            .stored;
    }
    reserved.endpoints = devices.into_endpoints();
    txn.commit().await?;
    if copy_later {
        copy_deliveries(db, &rows).await?;
        if let Some(id) = campaign_id {
            end_if_cancelled_meanwhile(db, id, &rows).await?;
        }
    }
    Ok(reserved)
}

/// A cancel that landed between the page's commit and its copy ended the campaign's
/// waiting deliveries without these: end them too. The share lock waits for a cancel
/// in progress; one that starts later sees the copied rows.
async fn end_if_cancelled_meanwhile(
    db: &DatabaseConnection,
    campaign_id: i64,
    rows: &[delivery::ActiveModel],
) -> Result<()> {
    let waiting = rows.iter().any(|row| {
        DeliveryStatus::parse(row.status.as_ref()).is_some_and(|status| !status.is_final())
    });
    if !waiting {
        return Ok(());
    }
    let status: Option<String> = campaign::Entity::find_by_id(campaign_id)
        .select_only()
        .column(campaign::Column::Status)
        .lock_shared()
        .into_tuple()
        .one(db)
        .await?;
    if status.as_deref() == Some(Status::Cancelled.as_str()) {
        crate::campaigns::store::cancel_deliveries(db, campaign_id).await?;
    }
    Ok(())
}

/// Postgres: writes new delivery rows with one `COPY`, falling back to an insert that
/// leaves rows written before as they are (a page run twice at once, after a takeover).
async fn copy_deliveries(db: &DatabaseConnection, rows: &[delivery::ActiveModel]) -> Result<()> {
    match copy_all(db, rows).await {
        Ok(_) => Ok(()),
        Err(Error::Conflict { .. }) => {
            tracing::info!("some deliveries of the page were written before; skipping those");
            insert_deliveries(db, rows.to_vec()).await
        }
        Err(other) => Err(other),
    }
}

/// The (subscriber, channel, endpoint) of `ids` that already have a delivery of message
/// `message_id`, and the (subscriber, channel) pairs that have a slot reserved for it.
async fn decided_before(
    txn: &impl ConnectionTrait,
    message_id: i64,
    ids: &[i64],
) -> Result<(
    HashSet<(i64, ChannelKind, i64)>,
    HashSet<(i64, ChannelKind)>,
)> {
    let written = written_before(txn, message_id, ids).await?;
    let slotted = ledger::reserved_for(txn, message_id, ids).await?;
    Ok((written, slotted))
}

/// The (subscriber, channel, endpoint) of `ids` that have a delivery of `message_id`,
/// as a row or as a shared inbox item's entry.
pub(crate) async fn written_before(
    txn: &impl ConnectionTrait,
    message_id: i64,
    ids: &[i64],
) -> Result<HashSet<(i64, ChannelKind, i64)>> {
    let mut written: HashSet<(i64, ChannelKind, i64)> = delivery::Entity::find()
        .select_only()
        .columns([
            delivery::Column::SubscriberId,
            delivery::Column::Channel,
            delivery::Column::EndpointId,
        ])
        .filter(delivery::Column::MessageId.eq(message_id))
        .filter(ids_in(txn, delivery::Column::SubscriberId, ids))
        .into_tuple::<(i64, String, i64)>()
        .all(txn)
        .await?
        .into_iter()
        .filter_map(|(id, channel, endpoint)| Some((id, ChannelKind::parse(&channel)?, endpoint)))
        .collect();
    // Recipients of its shared inbox items are in the log without a row.
    let shared = super::shared::decided_among(txn, message_id, ids).await?;
    written.extend(
        shared
            .into_iter()
            .map(|id| (id, ChannelKind::Inbox, super::devices::NO_ENDPOINT)),
    );
    Ok(written)
}

/// Whether the campaign still runs and the kill switch stops neither it nor all
/// sending. On Postgres its row stays share-locked until `txn` ends, so a pause or
/// cancel waits for the page being reserved, and the next page sees it.
async fn still_running(txn: &impl ConnectionTrait, campaign_id: i64) -> Result<bool> {
    let mut query = campaign::Entity::find_by_id(campaign_id)
        .select_only()
        .column(campaign::Column::Status);
    if is_postgres(txn) {
        query = query.lock_shared();
    }
    let status: Option<String> = query.into_tuple().one(txn).await?;
    Ok(status.as_deref() == Some(Status::Running.as_str())
        && !crate::halts::stops_campaign(txn, campaign_id).await?)
}

/// Writes every (recipient, channel) of a page of a cancelled campaign as cancelled;
/// returns how many rows that makes. Pairs written before (a page cancelled while it
/// ran) stay as they are.
pub async fn cancel(
    db: &impl ConnectionTrait,
    message: &message::Model,
    recipients: &[Recipient],
    now: DateTime<Utc>,
) -> Result<u64> {
    let channels = channels_of(message)?;
    let ids: Vec<i64> = recipients.iter().map(|r| r.id).collect();
    let written: HashSet<(i64, ChannelKind)> = written_before(db, message.id, &ids)
        .await?
        .into_iter()
        .map(|(s, c, _)| (s, c))
        .collect();
    let rows: Vec<delivery::ActiveModel> = candidates_of(recipients, &channels)
        .into_iter()
        .filter(|c| !written.contains(&(c.recipient.id, c.channel)))
        .map(|c| delivery::ActiveModel {
            status: Set(DeliveryStatus::Cancelled.as_str().to_owned()),
            reason: Set(Some(
                "the campaign was cancelled before this was sent".to_owned(),
            )),
            ..new_row(message.id, c.recipient.id, c.channel, NO_ENDPOINT, now)
        })
        .collect();
    let count = rows.len() as u64;
    insert_deliveries(db, rows).await?;
    Ok(count)
}

/// A delivery about to be sent for the first time, not yet written (its `id` is 0): a
/// new row as [`new_row`] makes it, being sent, its first try counted.
fn to_send(
    message_id: i64,
    subscriber_id: i64,
    channel: ChannelKind,
    endpoint_id: i64,
    now: DateTime<Utc>,
) -> Result<delivery::Model> {
    Ok(delivery::ActiveModel {
        id: Set(0),
        status: Set(DeliveryStatus::Sending.as_str().to_owned()),
        attempts: Set(1),
        ..new_row(message_id, subscriber_id, channel, endpoint_id, now)
    }
    .try_into_model()?)
}

/// Writes each first attempt as its delivery, in its final state (delivered, failed,
/// dead) or due again after a backoff. On Postgres the rows go in with one `COPY`; a
/// delivery written before (two runs of one page at once, after a takeover) makes it
/// fall back to an insert that leaves existing rows as they are.
pub async fn record_first(
    db: &DatabaseConnection,
    attempts: Vec<Attempt>,
    policy: &RetryPolicy,
    now: DateTime<Utc>,
) -> Result<Recorded> {
    let mut recorded = Recorded::default();
    let rows: Vec<delivery::ActiveModel> = attempts
        .iter()
        .map(|attempt| first_attempt_row(attempt, policy, now, &mut recorded))
        .collect();
    let occurred: Vec<Occurred> = attempts
        .iter()
        .zip(&rows)
        .filter_map(|(attempt, row)| outcome_event(attempt, row))
        .collect();
    let interest = if occurred.is_empty() {
        Interest::default()
    } else {
        Interest::load(db).await?
    };
    // COPY runs outside a transaction: when an endpoint wants these outcomes, the rows
    // and their events go in one transaction instead.
    let outcomes = [
        EventType::Delivered,
        EventType::Failed,
        EventType::DeadLettered,
    ];
    if is_postgres(db) && !interest.wants_any(&outcomes) {
        copy_deliveries(db, &rows).await?;
        return Ok(recorded);
    }
    let txn = crate::db::begin_write(db).await?;
    limit_statement_time(&txn, QUEUE_STATEMENT_TIMEOUT).await?;
    insert_deliveries(&txn, rows).await?;
    crate::events::outbox::record(&txn, &interest, &occurred, now).await?;
    txn.commit().await?;
    Ok(recorded)
}

/// The event a first attempt's row records, if it ended the delivery.
fn outcome_event(attempt: &Attempt, row: &delivery::ActiveModel) -> Option<Occurred> {
    let event = match row.status.as_ref().as_str() {
        "delivered" => EventType::Delivered,
        "failed" => EventType::Failed,
        "dead" => EventType::DeadLettered,
        _ => return None,
    };
    let detail = match &attempt.outcome {
        DeliveryOutcome::Delivered { response, .. } => response,
        DeliveryOutcome::Retryable { reason, .. } | DeliveryOutcome::Permanent { reason, .. } => {
            reason
        }
    };
    let sent = &attempt.delivery;
    Some(Occurred::outcome(
        event,
        sent.message_id,
        sent.subscriber_id,
        &sent.channel,
        detail,
    ))
}

fn first_attempt_row(
    attempt: &Attempt,
    policy: &RetryPolicy,
    now: DateTime<Utc>,
    recorded: &mut Recorded,
) -> delivery::ActiveModel {
    let sent = &attempt.delivery;
    let channel = ChannelKind::parse(&sent.channel).unwrap_or(ChannelKind::Webhook);
    let (detail, status, not_before, reason) = match &attempt.outcome {
        DeliveryOutcome::Delivered {
            provider_message_id,
            response,
        } => {
            recorded.delivered += 1;
            let detail = match provider_message_id {
                Some(id) => format!("{id}: {response}"),
                None => response.clone(),
            };
            (detail, DeliveryStatus::Delivered, None, None)
        }
        DeliveryOutcome::Permanent { reason, .. } => {
            recorded.failed += 1;
            (
                reason.clone(),
                DeliveryStatus::Failed,
                None,
                Some(reason.clone()),
            )
        }
        DeliveryOutcome::Retryable {
            reason,
            retry_after,
            ..
        } => match policy.next_try(sent.attempts, *retry_after, now) {
            Some(at) => {
                recorded.retrying += 1;
                (
                    reason.clone(),
                    DeliveryStatus::Queued,
                    Some(at),
                    Some(reason.clone()),
                )
            }
            None => {
                recorded.dead += 1;
                (
                    reason.clone(),
                    DeliveryStatus::Dead,
                    None,
                    Some(reason.clone()),
                )
            }
        },
    };
    delivery::ActiveModel {
        status: Set(status.as_str().to_owned()),
        not_before: Set(not_before),
        reason: Set(reason),
        attempts: Set(sent.attempts),
        first_attempt_at: Set(Some(attempt.started_at)),
        first_attempt_ms: Set(Some(
            i32::try_from(attempt.duration.as_millis()).unwrap_or(i32::MAX),
        )),
        first_attempt_detail: Set(Some(detail)),
        ..new_row(
            sent.message_id,
            sent.subscriber_id,
            channel,
            sent.endpoint_id,
            now,
        )
    }
}

/// The change that files delivery `id` as held back by `hit`.
pub(crate) fn held_change(id: i64, hit: &KeywordHit) -> Change {
    Change {
        id,
        status: DeliveryStatus::Filtered.as_str(),
        not_before: None,
        reason: Some(hit.reason()),
        filter: Some(FilterKind::Keyword.as_str()),
        rule_id: Some(hit.rule_id),
        list_entry_id: None,
        endpoint_id: None,
    }
}

/// Undoes what reserving and claiming did for deliveries held back before they were
/// tried: the try a claim counted (rows written before, `id` > 0) and their ledger
/// slots, since a cap counts what was sent.
pub(crate) async fn give_back(txn: &impl ConnectionTrait, held: &[&delivery::Model]) -> Result<()> {
    unclaim(txn, held).await?;
    let keys: Vec<(i64, i64, &str)> = held
        .iter()
        .map(|row| (row.message_id, row.subscriber_id, row.channel.as_str()))
        .collect();
    ledger::release(txn, &keys).await
}

/// Takes back the try a claim counted for rows written before (`id` > 0) that were not
/// tried after all.
async fn unclaim(txn: &impl ConnectionTrait, rows: &[&delivery::Model]) -> Result<()> {
    let claimed: Vec<i64> = rows.iter().map(|row| row.id).filter(|id| *id > 0).collect();
    for chunk in claimed.chunks(RECORD_CHUNK) {
        delivery::Entity::update_many()
            .col_expr(
                delivery::Column::Attempts,
                Expr::col(delivery::Column::Attempts).sub(1),
            )
            .filter(one_of(txn, delivery::Column::Id, chunk.to_vec()))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Deliveries their lane's pacing could not let go within the wait a worker allows
/// itself: queued again, due at the lane's next free slot, unattempted and keeping their
/// ledger slot (they will be sent). Returns how many.
pub async fn record_paced<C>(
    db: &C,
    paced: Vec<(delivery::Model, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> Result<u64>
where
    C: ConnectionTrait + TransactionTrait,
{
    const WHY: &str = "paced: its receiver pushed back, so it waits for a free slot";
    let put_off = paced
        .into_iter()
        .map(|(row, due)| (row, due, WHY.to_owned()));
    requeue(db, put_off, now).await
}

/// Deliveries the kill switch stopped before they were sent: queued again, due now (the
/// claims leave them out while the stop holds), unattempted and keeping their ledger
/// slot, with why in their reason. Returns how many.
pub async fn record_stopped<C>(
    db: &C,
    stopped: Vec<(delivery::Model, String)>,
    now: DateTime<Utc>,
) -> Result<u64>
where
    C: ConnectionTrait + TransactionTrait,
{
    let put_off = stopped.into_iter().map(|(row, why)| (row, now, why));
    requeue(db, put_off, now).await
}

/// Files unattempted deliveries as queued again, each due at its time with its reason,
/// keeping their ledger slots.
async fn requeue<C>(
    db: &C,
    put_off: impl Iterator<Item = (delivery::Model, DateTime<Utc>, String)>,
    now: DateTime<Utc>,
) -> Result<u64>
where
    C: ConnectionTrait + TransactionTrait,
{
    let filed = put_off
        .map(|(row, due, why)| {
            let change = Change {
                id: row.id,
                status: DeliveryStatus::Queued.as_str(),
                not_before: Some(due),
                reason: Some(why),
                filter: None,
                rule_id: row.rule_id,
                list_entry_id: row.list_entry_id,
                endpoint_id: None,
            };
            (row, change)
        })
        .collect();
    file_untried(db, filed, false, now).await
}

/// Deliveries that keyword rules held back once rendered: `filtered`, with the rule and
/// the word in the reason, and their ledger slots given back, since nothing was sent.
/// Returns how many.
pub async fn record_held<C>(
    db: &C,
    held: Vec<(delivery::Model, KeywordHit)>,
    now: DateTime<Utc>,
) -> Result<u64>
where
    C: ConnectionTrait + TransactionTrait,
{
    let filed = held
        .into_iter()
        .map(|(row, hit)| {
            let change = held_change(row.id, &hit);
            (row, change)
        })
        .collect();
    file_untried(db, filed, true, now).await
}

/// Files deliveries that were not tried after all in the state each change gives:
/// written when a page never wrote them (`id` 0), moved when claimed, with the try a
/// claim counted taken back; with `release`, their ledger slots are given back too.
async fn file_untried<C>(
    db: &C,
    filed: Vec<(delivery::Model, Change)>,
    release: bool,
    now: DateTime<Utc>,
) -> Result<u64>
where
    C: ConnectionTrait + TransactionTrait,
{
    if filed.is_empty() {
        return Ok(0);
    }
    let mut fresh = Vec::new();
    let mut claimed = Vec::new();
    for (row, change) in &filed {
        if row.id != 0 {
            claimed.push(change.clone());
            continue;
        }
        let channel = ChannelKind::parse(&row.channel).unwrap_or(ChannelKind::Webhook);
        fresh.push(delivery::ActiveModel {
            status: Set(change.status.to_owned()),
            filter: Set(change.filter.map(str::to_owned)),
            rule_id: Set(change.rule_id),
            list_entry_id: Set(change.list_entry_id),
            reason: Set(change.reason.clone()),
            not_before: Set(change.not_before),
            ..new_row(
                row.message_id,
                row.subscriber_id,
                channel,
                row.endpoint_id,
                now,
            )
        });
    }
    let txn = crate::db::begin_write(db).await?;
    insert_deliveries(&txn, fresh).await?;
    for chunk in claimed.chunks(RECORD_CHUNK) {
        update_each(&txn, chunk, now).await?;
    }
    let rows: Vec<&delivery::Model> = filed.iter().map(|(row, _)| row).collect();
    if release {
        give_back(&txn, &rows).await?;
    } else {
        unclaim(&txn, &rows).await?;
    }
    txn.commit().await?;
    Ok(filed.len() as u64)
}
