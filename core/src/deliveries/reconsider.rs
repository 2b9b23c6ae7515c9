//! Deliveries waiting on time: deferred ones whose time has come are decided again (the
//! rules may say send, filter, or wait longer; a cap slot is taken only now), and
//! unfinished deliveries of an expired message end as expired.

use foldhash::HashMap;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{LockBehavior, LockType};
use sea_orm::{
    ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionSession,
    TransactionTrait,
};

use super::devices::{Devices, NO_ENDPOINT};
use super::displace::{allowed_candidates, make_room};
use super::ledger::{self, Slots};
use super::plan::{
    PlanSummary, change_for, engine_message, insert_deliveries, lock_subscribers, new_row,
};
use super::polls;
use super::queue::{Change, HELD_MESSAGES, update_each};
use super::status::DeliveryStatus;
use crate::channel::ChannelKind;
use crate::db::{ids_in, is_postgres, prefer_generic_plans};
use crate::entities::by_position::all_by_position;
use crate::entities::{delivery, message, subscriber};
use crate::error::Result;
use crate::rules::engine::{Candidate, Recipient, RuleSet};

/// Whether any deferred delivery is due, so a worker loads rules only when needed.
pub async fn any_deferred_due(conn: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<bool> {
    Ok(polls::deferred_due(now)
        .select_only()
        .column(delivery::Column::Id)
        .into_tuple::<i64>()
        .one(conn)
        .await?
        .is_some())
}

/// Decides up to `limit` due deferred deliveries again, at `now`.
pub async fn reconsider_due<C>(
    db: &C,
    rules: &RuleSet,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<PlanSummary>
where
    C: ConnectionTrait + TransactionTrait,
{
    let mut summary = PlanSummary::default();
    let txn = crate::db::begin_write(db).await?;
    prefer_generic_plans(&txn).await?;
    let mut due = polls::deferred_due(now)
        .filter(sea_orm::sea_query::Expr::cust(format!(
            "message_id NOT IN ({HELD_MESSAGES})"
        )))
        .order_by_asc(delivery::Column::Id)
        .limit(limit);
    if is_postgres(&txn) {
        due = due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let due = due.all(&txn).await?;
    let mut by_message: BTreeMap<i64, Vec<delivery::Model>> = BTreeMap::new();
    for row in due {
        by_message.entry(row.message_id).or_default().push(row);
    }

    // Every message's subscribers at once, so the planning locks are taken in block
    // order like every other planner's (message by message, two could deadlock).
    let everyone: Vec<i64> = by_message
        .values()
        .flatten()
        .map(|row| row.subscriber_id)
        .collect();
    lock_subscribers(&txn, &everyone).await?;
    let mut changes = Vec::new();
    let mut fanned_out = Vec::new();
    for (message_id, rows) in by_message {
        let Some(message) = message::Entity::find_by_id(message_id).one(&txn).await? else {
            continue;
        };
        let mut ids: Vec<i64> = rows.iter().map(|r| r.subscriber_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let query = subscriber::Entity::find().filter(ids_in(&txn, subscriber::Column::Id, &ids));
        let recipients: HashMap<i64, Recipient> = all_by_position::<Recipient>(&txn, query)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let (rows, candidates): (Vec<&delivery::Model>, Vec<Candidate<'_>>) = rows
            .iter()
            .filter_map(|row| {
                let recipient = recipients.get(&row.subscriber_id)?;
                let channel = ChannelKind::parse(&row.channel)?;
                Some((row, Candidate { recipient, channel }))
            })
            .unzip();
        let decided = rules
            .evaluate(&txn, engine_message(&message), now, &candidates)
            .await?;
        let allowed = allowed_candidates(&candidates, &decided);
        let mut slots = Slots::default();
        let channels: Vec<ChannelKind> = candidates.iter().map(|c| c.channel).collect();
        let devices = Devices::load(&txn, &ids, &channels).await?;
        for ((row, candidate), decision) in rows.iter().zip(&candidates).zip(decided) {
            let change = change_for(row.id, decision, &mut summary);
            if change.status == DeliveryStatus::Queued.as_str() {
                slots.take(&message, row.subscriber_id, candidate.channel, now);
                // Decided for the subscriber while it waited; allowed now, it goes to
                // each of their devices: the waiting row to the first, a new row to
                // each other.
                let targets = devices.targets(row.subscriber_id, candidate.channel);
                if let Some((&first, others)) = targets.split_first()
                    && first != NO_ENDPOINT
                {
                    changes.push(Change {
                        endpoint_id: Some(first),
                        ..change
                    });
                    fanned_out.extend(others.iter().map(|&endpoint| {
                        new_row(
                            message.id,
                            row.subscriber_id,
                            candidate.channel,
                            endpoint,
                            now,
                        )
                    }));
                    continue;
                }
            }
            changes.push(change);
        }
        ledger::write(&txn, slots).await?;
        make_room(&txn, rules, &message, &allowed, now).await?;
    }
    for chunk in changes.chunks(1_000) {
        update_each(&txn, chunk, now).await?;
    }
    insert_deliveries(&txn, fanned_out).await?;
    txn.commit().await?;
    Ok(summary)
}

/// Ends the unfinished deliveries of messages that expired by `now`; returns how many.
pub async fn expire_due(conn: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64> {
    let result = polls::expire(now).exec(conn).await?;
    Ok(result.rows_affected)
}
