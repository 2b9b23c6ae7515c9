//! Inbox deliveries need no plugin: storing the item is the whole send. So the inbox
//! deliveries that may go now are stored in the transaction that plans them
//! ([`store_now`]): a batch of API sends, or a page of a campaign's audience. Each is
//! written once, in its final state with its one attempt inline, beside its item; the
//! subscribers' streams hear of them as that transaction commits, with no wait for a
//! worker. Inbox deliveries that wait (quiet hours, a local send time, a paused
//! campaign) are stored by the worker's senders when their time comes, with
//! [`item_for`].

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::collections::hash_map::Entry;
use std::time::Instant;

use chrono::{DateTime, Utc};
use herald_channels::DeliveryOutcome;
use sea_orm::{ActiveValue::Set, ConnectionTrait};

use super::logged::log_delivered;
use super::shared::SharedItem;
use super::store::{NewItem, Stored, store_new};
use crate::channel::ChannelKind;
use crate::deliveries::ledger;
use crate::deliveries::page::held_change;
use crate::deliveries::plan::{insert_deliveries, new_row};
use crate::deliveries::shared::STORED;
use crate::deliveries::{DeliveryStatus, Stop};
use crate::entities::{delivery, message, subscriber};
use crate::error::Result;
use crate::events::outbox::{Interest, record};
use crate::events::{EventType, Occurred};
use crate::rules::KeywordRules;
use crate::templates::render::{CompiledContent, RenderContext};

/// The item an inbox delivery stores: its message's inbox content, rendered for its
/// subscriber, unless a keyword rule finds a banned word in it. A render error is the
/// delivery's permanent failure.
pub fn item_for(
    delivery_id: i64,
    message: &message::Model,
    content: &CompiledContent,
    subscriber: &subscriber::Model,
    keywords: &KeywordRules,
) -> std::result::Result<NewItem, Stop> {
    let context = RenderContext::for_subscriber(subscriber, &message.data);
    rendered_item(
        delivery_id,
        message,
        content,
        subscriber.id,
        &context,
        keywords,
    )
}

/// [`item_for`] with the render's variables given.
fn rendered_item(
    delivery_id: i64,
    message: &message::Model,
    content: &CompiledContent,
    subscriber_id: i64,
    context: &RenderContext<'_>,
    keywords: &KeywordRules,
) -> std::result::Result<NewItem, Stop> {
    let inbox = content
        .render_inbox(context)
        .map_err(|e| DeliveryOutcome::permanent(format!("rendering failed: {e}")))?
        .ok_or_else(|| DeliveryOutcome::permanent("the template has no inbox content"))?;
    if let Some(hit) = keywords.first_hit(|| inbox.texts(), ChannelKind::Inbox, &message.category) {
        return Err(Stop::Held(hit));
    }
    Ok(NewItem {
        subscriber_id,
        delivery_id,
        category: message.category.clone(),
        title: inbox.title,
        body: inbox.body,
        data: serde_json::to_value(inbox.data).unwrap_or_default(),
    })
}

/// The item of a send whose delivery id is not known yet. Content that reads no
/// subscriber variable is rendered without their row: callers load whole rows only
/// for the recipients of content that does.
fn item_of_send(
    planned: &Planned<'_>,
    subscriber_id: i64,
    subscribers: &HashMap<i64, subscriber::Model>,
    keywords: &KeywordRules,
) -> std::result::Result<NewItem, Stop> {
    let (message, content) = (planned.message, planned.content);
    if content.inbox_same_for_all() {
        let context = RenderContext::for_anyone(&message.data);
        return rendered_item(0, message, content, subscriber_id, &context, keywords);
    }
    match subscribers.get(&subscriber_id) {
        Some(subscriber) => item_for(0, message, content, subscriber, keywords),
        None => Err(DeliveryOutcome::permanent("the subscriber was not loaded").into()),
    }
}

/// A message planned in the current transaction, with its compiled content.
pub struct Planned<'a> {
    pub message: &'a message::Model,
    pub content: &'a CompiledContent,
}

/// An inbox delivery the rules let go now (its ledger slot reserved), not yet written.
#[derive(Debug, Clone, Copy)]
pub struct InboxSend {
    pub message_id: i64,
    pub subscriber_id: i64,
}

/// What [`store_now`] did.
#[derive(Debug, Default)]
pub struct Finished {
    /// The items stored, in id order: announce them on the bus once committed.
    pub stored: Vec<Stored>,
    /// Deliveries written, each in a final status (delivered, failed or held back).
    pub deliveries: u64,
}

/// Writes each of `sends` (of `planned` messages; `subscribers` holds the whole rows of
/// the recipients of content that reads the subscriber) in `txn`, the write transaction
/// that decided them, in its final state: delivered with its item stored, failed when
/// its item cannot be rendered, or filtered when `keywords` hold it back (its ledger
/// slot then given back: a cap counts what was sent). A personal send whose delivery
/// exists already is left as it is and stores nothing; a shared message's sends must
/// be new (a page's planner leaves out the recipients it decided before).
pub async fn store_now(
    txn: &impl ConnectionTrait,
    planned: &[Planned<'_>],
    sends: &[InboxSend],
    subscribers: &HashMap<i64, subscriber::Model>,
    keywords: &KeywordRules,
    now: DateTime<Utc>,
) -> Result<Finished> {
    if sends.is_empty() {
        return Ok(Finished::default());
    }
    let clock = Instant::now();
    let by_id: HashMap<i64, &Planned<'_>> = planned.iter().map(|p| (p.message.id, p)).collect();
    let shared = shared_messages(planned, sends);
    // A shared message's item, rendered for its first recipient: the same for all.
    let mut rendered_once: HashMap<i64, std::result::Result<NewItem, Stop>> = HashMap::new();
    // The personal items by (message, subscriber), and every send that has an item.
    let mut items: HashMap<(i64, i64), NewItem> = HashMap::new();
    let mut ready: HashSet<(i64, i64)> = HashSet::with_capacity(sends.len());
    let mut unstored = Vec::new();
    let mut held = Vec::new();
    // The row of a send that is not stored (most are, and are logged set-based).
    let row_of = |send: &InboxSend| {
        new_row(
            send.message_id,
            send.subscriber_id,
            ChannelKind::Inbox,
            crate::deliveries::devices::NO_ENDPOINT,
            now,
        )
    };
    for send in sends {
        let rendered = match by_id.get(&send.message_id) {
            // The delivery id is known once the row is written.
            Some(planned) if shared.contains(&send.message_id) => {
                match rendered_once.entry(send.message_id).or_insert_with(|| {
                    item_of_send(planned, send.subscriber_id, subscribers, keywords)
                }) {
                    Ok(_) => Ok(None),
                    Err(stop) => Err(stop.clone()),
                }
            }
            Some(planned) => {
                item_of_send(planned, send.subscriber_id, subscribers, keywords).map(Some)
            }
            None => Err(DeliveryOutcome::permanent("the message was not loaded").into()),
        };
        match rendered {
            Ok(personal) => {
                let key = (send.message_id, send.subscriber_id);
                ready.insert(key);
                if let Some(item) = personal {
                    items.insert(key, item);
                }
            }
            Err(Stop::Failed(outcome)) => {
                let reason = match outcome {
                    DeliveryOutcome::Permanent { reason, .. }
                    | DeliveryOutcome::Retryable { reason, .. } => reason,
                    DeliveryOutcome::Delivered { response, .. } => response,
                };
                unstored.push(delivery::ActiveModel {
                    status: Set(DeliveryStatus::Failed.as_str().to_owned()),
                    reason: Set(Some(reason.clone())),
                    attempts: Set(1),
                    first_attempt_at: Set(Some(now)),
                    first_attempt_ms: Set(Some(0)),
                    first_attempt_detail: Set(Some(reason)),
                    ..row_of(send)
                });
            }
            Err(Stop::Held(hit)) => {
                let change = held_change(0, &hit);
                held.push((send.message_id, send.subscriber_id));
                unstored.push(delivery::ActiveModel {
                    status: Set(change.status.to_owned()),
                    filter: Set(change.filter.map(str::to_owned)),
                    rule_id: Set(change.rule_id),
                    reason: Set(change.reason),
                    ..row_of(send)
                });
            }
        }
    }

    let millis = i32::try_from(clock.elapsed().as_millis()).unwrap_or(i32::MAX);
    // A shared message's delivered recipients get no delivery row: its item's share
    // bits are their log entries (ADR 0003). The page's planner left out recipients
    // it decided before, so each of these is new.
    let (shared_sends, personal_sends): (Vec<InboxSend>, Vec<InboxSend>) = sends
        .iter()
        .filter(|send| ready.contains(&(send.message_id, send.subscriber_id)))
        .partition(|send| shared.contains(&send.message_id));
    // Only rows this call inserted come back: a delivery written before stores nothing.
    let written = log_delivered(txn, &personal_sends, now, millis, STORED).await?;
    let deliveries = (written.len() + shared_sends.len() + unstored.len()) as u64;
    let mut fresh: Vec<NewItem> = Vec::new();
    for row in &written {
        if let Some(mut item) = items.remove(&(row.message_id, row.subscriber_id)) {
            item.delivery_id = row.id;
            fresh.push(item);
        }
    }
    let mut sharing: HashMap<i64, (SharedItem, Vec<i64>)> = HashMap::new();
    for send in &shared_sends {
        let (_, recipients) = match sharing.entry(send.message_id) {
            Entry::Occupied(share) => share.into_mut(),
            Entry::Vacant(share) => {
                // Ready sends of a shared message all had its item.
                let Some(Ok(item)) = rendered_once.remove(&send.message_id) else {
                    continue;
                };
                share.insert((SharedItem::of(send.message_id, item), Vec::new()))
            }
        };
        recipients.push(send.subscriber_id);
    }
    // A thousand events are built only when some endpoint listens for them.
    let interest = Interest::load(txn).await?;
    if !interest.is_empty() {
        let failed = unstored
            .iter()
            .filter(|row| row.status.as_ref() == DeliveryStatus::Failed.as_str())
            .map(|row| {
                Occurred::outcome(
                    EventType::Failed,
                    *row.message_id.as_ref(),
                    *row.subscriber_id.as_ref(),
                    ChannelKind::Inbox.as_str(),
                    row.reason.as_ref().as_deref().unwrap_or_default(),
                )
            });
        let delivered = written
            .iter()
            .map(|row| (row.message_id, row.subscriber_id))
            .chain(shared_sends.iter().map(|s| (s.message_id, s.subscriber_id)));
        let occurred: Vec<Occurred> = delivered
            .map(|(message_id, subscriber_id)| {
                Occurred::outcome(
                    EventType::Delivered,
                    message_id,
                    subscriber_id,
                    ChannelKind::Inbox.as_str(),
                    STORED,
                )
            })
            .chain(failed)
            .collect();
        record(txn, &interest, &occurred, now).await?;
    }
    insert_deliveries(txn, unstored).await?;
    let held: Vec<(i64, i64, &str)> = held
        .into_iter()
        .map(|(message_id, subscriber_id)| (message_id, subscriber_id, ChannelKind::Inbox.as_str()))
        .collect();
    ledger::release(txn, &held).await?;
    let mut stored = store_new(txn, fresh, now).await?;
    for (item, mut recipients) in sharing.into_values() {
        recipients.sort_unstable();
        stored.extend(super::shared::store(txn, item, &recipients, now).await?);
    }
    stored.sort_by_key(|one| one.item.id);
    Ok(Finished { stored, deliveries })
}

/// The messages among `sends` whose inbox item is stored once for all their recipients
/// here: content that reads nothing of the subscriber, going to more than one.
fn shared_messages(planned: &[Planned<'_>], sends: &[InboxSend]) -> HashSet<i64> {
    let mut recipients: HashMap<i64, usize> = HashMap::new();
    for send in sends {
        *recipients.entry(send.message_id).or_default() += 1;
    }
    planned
        .iter()
        .filter(|p| p.content.inbox_same_for_all())
        .map(|p| p.message.id)
        .filter(|id| recipients.get(id).is_some_and(|n| *n > 1))
        .collect()
}
