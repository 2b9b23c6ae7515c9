//! Making room: a send of a higher class that a budget let through may take its
//! subscriber over the budget as lower classes count it. Sends of lower classes that
//! still wait in the queue (reserved, never attempted) are then put off to the budget's
//! next window, lowest class and newest first, until the subscriber fits again. Sends
//! already on their way are left alone: the budget then runs over by those.
//!
//! Run by the planner in the transaction that reserved the higher sends' slots, under
//! the subscribers' locks, so two planners never displace for the same room.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super::facts::{self, LedgerSend};
use super::windows::{next_start, start_of};
use super::{Candidate, Memo, Message, RuleSet, cap_zone};
use crate::channel::ChannelKind;
use crate::error::Result;
use crate::rules::params::{FatigueBudgetParams, RuleParams};
use crate::rules::store::Rule;

/// A queued send of a lower class, put off so a higher one keeps its subscriber within
/// a budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Displaced {
    pub message_id: i64,
    pub subscriber_id: i64,
    pub channel: ChannelKind,
    /// How many delivery rows the send has (one per device).
    pub rows: u64,
    pub until: DateTime<Utc>,
    pub rule_id: i64,
    pub reason: String,
}

/// What a (message, subscriber, channel) slot is known by.
type SlotKey = (i64, i64, ChannelKind);

impl RuleSet {
    /// The queued lower-class sends to put off now that `allowed` sends of `message`
    /// hold their slots (reserved already, in this transaction). Nothing is read unless
    /// a budget ranks the message above some class.
    pub async fn displaced_by(
        &self,
        conn: &impl ConnectionTrait,
        message: Message<'_>,
        now: DateTime<Utc>,
        allowed: &[Candidate<'_>],
    ) -> Result<Vec<Displaced>> {
        let mut displaced = Vec::new();
        let mut taken: HashSet<SlotKey> = HashSet::new();
        let mut memo = Memo::default();
        for rule in &self.rules {
            let RuleParams::FatigueBudget(budget) = &rule.params else {
                continue;
            };
            let class = budget.class_of(message.category);
            if class == budget.classes.len() {
                continue; // the lowest class outranks nothing
            }
            let mut covered: Vec<_> = allowed
                .iter()
                .filter(|c| rule.applies_to(Some(c.channel), Some(message.category)))
                .map(|c| c.recipient)
                .collect();
            covered.sort_unstable_by_key(|r| r.id);
            covered.dedup_by_key(|r| r.id);
            if covered.is_empty() {
                continue;
            }
            let starts: HashMap<i64, DateTime<Utc>> = covered
                .iter()
                .map(|r| {
                    let zone = cap_zone(&mut memo, r);
                    (r.id, start_of(budget.window, None, zone, now))
                })
                .collect();
            let earliest = starts.values().min().copied().unwrap_or(now);
            let ids: Vec<i64> = starts.keys().copied().collect();
            let mut windows: HashMap<i64, Vec<LedgerSend>> = HashMap::new();
            for send in facts::ledger_sends(conn, &ids, earliest).await? {
                // A dense batch is read by id range: other subscribers' rows come too.
                let Some(&start) = starts.get(&send.subscriber_id) else {
                    continue;
                };
                let key = send.message_id.zip(send.channel);
                let gone = key.is_some_and(|(m, c)| taken.contains(&(m, send.subscriber_id, c)));
                if !gone && send.at >= start {
                    windows.entry(send.subscriber_id).or_default().push(send);
                }
            }
            let over: HashMap<i64, Overflow> = windows
                .iter()
                .filter_map(|(id, sends)| Some((*id, Overflow::of(budget, sends)?)))
                .collect();
            if over.is_empty() {
                continue;
            }
            let over_ids: Vec<i64> = over.keys().copied().collect();
            let lower_messages: Vec<i64> = over_ids
                .iter()
                .flat_map(|id| &windows[id])
                .filter(|s| budget.class_of(&s.category) > class)
                .filter_map(|s| s.message_id)
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            if lower_messages.is_empty() {
                continue;
            }
            let waiting = facts::waiting_slots(conn, &over_ids, &lower_messages).await?;
            for recipient in covered.iter().filter(|r| over.contains_key(&r.id)) {
                let zone = cap_zone(&mut memo, recipient);
                let room = Room {
                    rule,
                    budget,
                    class,
                    until: next_start(budget.window, zone, now),
                };
                let mut overflow = over[&recipient.id].clone();
                let sends = &windows[&recipient.id];
                for (key, rows) in room.victims(sends, &waiting, &mut overflow) {
                    taken.insert(key);
                    displaced.push(room.displaced(key, rows));
                }
            }
        }
        Ok(displaced)
    }
}

/// How far a subscriber is over a budget: in total and on channels with their own.
#[derive(Debug, Clone)]
struct Overflow {
    total: u32,
    channels: HashMap<ChannelKind, u32>,
}

impl Overflow {
    fn of(budget: &FatigueBudgetParams, sends: &[LedgerSend]) -> Option<Self> {
        let total = u32::try_from(sends.len()).unwrap_or(u32::MAX);
        let mut on: HashMap<ChannelKind, u32> = HashMap::new();
        for channel in sends.iter().filter_map(|s| s.channel) {
            *on.entry(channel).or_default() += 1;
        }
        let channels: HashMap<ChannelKind, u32> = on
            .into_iter()
            .filter_map(|(channel, n)| {
                let max = budget.channel_max(channel)?;
                (n > max).then(|| (channel, n - max))
            })
            .collect();
        let total = total.saturating_sub(budget.max);
        (total > 0 || !channels.is_empty()).then_some(Self { total, channels })
    }

    fn is_met(&self) -> bool {
        self.total == 0 && self.channels.is_empty()
    }

    /// Takes one send on `channel` off; whether that helped.
    fn relieve(&mut self, channel: ChannelKind) -> bool {
        let on_channel = self.channels.get_mut(&channel);
        let helps_channel = on_channel.as_ref().is_some_and(|n| **n > 0);
        if !helps_channel && self.total == 0 {
            return false;
        }
        if let Some(n) = on_channel {
            *n -= 1;
            if *n == 0 {
                self.channels.remove(&channel);
            }
        }
        self.total = self.total.saturating_sub(1);
        true
    }
}

/// One budget making room for a send of `class`.
struct Room<'a> {
    rule: &'a Rule,
    budget: &'a FatigueBudgetParams,
    class: usize,
    until: DateTime<Utc>,
}

impl Room<'_> {
    /// The subscriber's waiting lower-class sends to put off, lowest class and newest
    /// first, until `overflow` is met (or none is left).
    fn victims(
        &self,
        sends: &[LedgerSend],
        waiting: &HashMap<SlotKey, u64>,
        overflow: &mut Overflow,
    ) -> Vec<(SlotKey, u64)> {
        let mut lower: Vec<(usize, &LedgerSend, SlotKey, u64)> = sends
            .iter()
            .filter_map(|s| {
                let class = self.budget.class_of(&s.category);
                let key = (s.message_id?, s.subscriber_id, s.channel?);
                let rows = *waiting.get(&key)?;
                (class > self.class).then_some((class, s, key, rows))
            })
            .collect();
        lower.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.at.cmp(&a.1.at)));
        let mut chosen = Vec::new();
        for (_, _, key, rows) in lower {
            if overflow.is_met() {
                break;
            }
            if overflow.relieve(key.2) {
                chosen.push((key, rows));
            }
        }
        chosen
    }

    fn displaced(&self, key: SlotKey, rows: u64) -> Displaced {
        let (message_id, subscriber_id, channel) = key;
        Displaced {
            message_id,
            subscriber_id,
            channel,
            rows,
            until: self.until,
            rule_id: self.rule.model.id,
            reason: format!(
                "deferred by budget `{}`: made room for a higher-class send ({})",
                self.rule.model.name,
                self.budget.class_name(self.class),
            ),
        }
    }
}
