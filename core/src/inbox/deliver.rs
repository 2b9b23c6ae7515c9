//! Inbox deliveries need no plugin: storing the item is the whole send. So the inbox
//! deliveries that may go now are stored in the transaction that plans them
//! ([`store_planned`]): a batch of API sends, or a page of a campaign's audience. The
//! subscribers' streams hear of them as that transaction commits, with no wait for a
//! worker to claim them and no second round of reads and writes. Inbox deliveries that
//! wait (quiet hours, a local send time, a lease that ran out) are stored by the
//! worker's senders when their time comes, with [`item_for`] too.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use herald_channels::DeliveryOutcome;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::store::{NewItem, Stored, store_new};
use crate::bulk::insert_all;
use crate::channel::ChannelKind;
use crate::db::one_of;
use crate::deliveries::page::{give_back, held_change};
use crate::deliveries::queue::{Attempt, Change, RECORD_CHUNK, attempt_row, update_each};
use crate::deliveries::{DeliveryStatus, Stop};
use crate::entities::{delivery, message, subscriber};
use crate::error::Result;
use crate::rules::KeywordRules;
use crate::templates::render::{CompiledContent, RenderContext};

/// The item an inbox delivery stores: its message's inbox content, rendered for its
/// subscriber, unless a keyword rule finds a banned word in it. A render error is the
/// delivery's permanent failure.
pub fn item_for(
    delivery: &delivery::Model,
    message: &message::Model,
    content: &CompiledContent,
    subscriber: &subscriber::Model,
    keywords: &KeywordRules,
) -> std::result::Result<NewItem, Stop> {
    let context = RenderContext::for_subscriber(subscriber, &message.data);
    let inbox = content
        .render_inbox(&context)
        .map_err(|e| DeliveryOutcome::permanent(format!("rendering failed: {e}")))?
        .ok_or_else(|| DeliveryOutcome::permanent("the template has no inbox content"))?;
    if let Some(hit) = keywords.first_hit(|| inbox.texts(), ChannelKind::Inbox, &message.category) {
        return Err(Stop::Held(hit));
    }
    Ok(NewItem {
        subscriber_id: delivery.subscriber_id,
        delivery_id: delivery.id,
        category: message.category.clone(),
        title: inbox.title,
        body: inbox.body,
        data: serde_json::to_value(inbox.data).unwrap_or_default(),
    })
}

/// A message planned in the current transaction, with its compiled content.
pub struct Planned<'a> {
    pub message: &'a message::Model,
    pub content: &'a CompiledContent,
}

/// What [`store_planned`] did.
#[derive(Debug, Default)]
pub struct Finished {
    /// The items stored, in id order: announce them on the bus once committed.
    pub stored: Vec<Stored>,
    /// Deliveries that reached a final status (stored, failed or held back).
    pub deliveries: u64,
}

/// Stores an item for every queued inbox delivery of `planned` to `subscribers`, in
/// `txn` (the write transaction that planned them), and logs each as one attempt:
/// delivered, or failed when its item cannot be rendered. One that `keywords` hold
/// back is filtered instead, unattempted, and its ledger slot given back. Other
/// deliveries of the same messages (a campaign's earlier pages, ones that waited for
/// quiet hours) are left to the worker.
pub async fn store_planned(
    txn: &impl ConnectionTrait,
    planned: &[Planned<'_>],
    subscribers: &HashMap<i64, subscriber::Model>,
    keywords: &KeywordRules,
    now: DateTime<Utc>,
) -> Result<Finished> {
    if planned.is_empty() {
        return Ok(Finished::default());
    }
    let clock = Instant::now();
    let ids: Vec<i64> = planned.iter().map(|p| p.message.id).collect();
    let recipients: Vec<i64> = subscribers.keys().copied().collect();
    // Delivered up front; a delivery whose item cannot be made is failed below, before
    // the transaction commits.
    let mut claimed = delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Status,
            Expr::value(DeliveryStatus::Delivered.as_str()),
        )
        .col_expr(
            delivery::Column::Attempts,
            Expr::col(delivery::Column::Attempts).add(1),
        )
        .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
        .filter(one_of(txn, delivery::Column::MessageId, ids))
        .filter(one_of(txn, delivery::Column::SubscriberId, recipients))
        .filter(delivery::Column::Channel.eq(ChannelKind::Inbox.as_str()))
        // A literal: SQLite prepares a statement again on every run when a bound value
        // decides whether a partial index (here, on status) applies.
        .filter(Expr::cust("deliveries.status = 'queued'"))
        .exec_with_returning(txn)
        .await?;
    claimed.sort_unstable_by_key(|d| d.id);

    let by_id: HashMap<i64, &Planned<'_>> = planned.iter().map(|p| (p.message.id, p)).collect();
    let mut items = Vec::with_capacity(claimed.len());
    let mut attempted = Vec::with_capacity(claimed.len());
    let mut held = Vec::new();
    for delivery in claimed {
        let item = match (
            by_id.get(&delivery.message_id),
            subscribers.get(&delivery.subscriber_id),
        ) {
            (Some(planned), Some(subscriber)) => item_for(
                &delivery,
                planned.message,
                planned.content,
                subscriber,
                keywords,
            ),
            _ => Err(DeliveryOutcome::permanent("the message or subscriber was not loaded").into()),
        };
        match item {
            Ok(item) => {
                items.push(item);
                attempted.push((
                    delivery,
                    DeliveryOutcome::Delivered {
                        provider_message_id: None,
                        response: "stored in the subscriber's inbox".to_owned(),
                    },
                ));
            }
            Err(Stop::Failed(failed)) => attempted.push((delivery, failed)),
            Err(Stop::Held(hit)) => held.push((delivery, hit)),
        }
    }
    let stored = store_new(txn, items, now).await?;

    let duration = clock.elapsed();
    let deliveries = (attempted.len() + held.len()) as u64;
    let attempts: Vec<Attempt> = attempted
        .into_iter()
        .map(|(delivery, outcome)| Attempt {
            delivery,
            started_at: now,
            duration,
            outcome,
        })
        .collect();
    let mut changes: Vec<Change> = attempts
        .iter()
        .filter_map(|attempt| match &attempt.outcome {
            DeliveryOutcome::Permanent { reason, .. } => Some(Change {
                id: attempt.delivery.id,
                status: DeliveryStatus::Failed.as_str(),
                not_before: None,
                reason: Some(reason.clone()),
                filter: None,
                rule_id: attempt.delivery.rule_id,
                list_entry_id: attempt.delivery.list_entry_id,
                endpoint_id: None,
            }),
            _ => None,
        })
        .collect();
    changes.extend(
        held.iter()
            .map(|(delivery, hit)| held_change(delivery.id, hit)),
    );
    insert_all(txn, attempts.iter().map(attempt_row).collect(), &[]).await?;
    for chunk in changes.chunks(RECORD_CHUNK) {
        update_each(txn, chunk, now).await?;
    }
    let held: Vec<&delivery::Model> = held.iter().map(|(row, _)| row).collect();
    give_back(txn, &held).await?;
    Ok(Finished { stored, deliveries })
}
