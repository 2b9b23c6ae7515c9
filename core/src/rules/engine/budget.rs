//! Fatigue budgets: at most so many messages per subscriber per hour, day or week
//! across every channel and category (and tighter per channel), with priority classes.
//! A send counts only the sends of its own class and higher, so a lower class never
//! holds back a higher one (and queued lower sends make room, see `displace`); over
//! budget it waits for the next window. Counted from the
//! send ledger plus what the batch has allowed, under the subscribers' locks the
//! planner holds, so budgets stay exact with several workers.

use foldhash::{HashMap, HashMapExt};

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super::facts;
use super::windows::{next_start, start_of};
use super::{Candidate, Decision, Memo, Message, RuleSet, cap_zone};
use crate::channel::ChannelKind;
use crate::error::Result;
use crate::rules::params::{CapWindow, FatigueBudgetParams, RuleParams};

/// A ledger send as a budget sees it: its channel, class and time.
type Counted = (Option<ChannelKind>, usize, DateTime<Utc>);

/// One budget's counts for a batch.
pub(super) struct BudgetState {
    /// Per subscriber, their sends in the window.
    sends: HashMap<i64, Vec<Counted>>,
    /// What this batch allowed, per subscriber and channel (all of the message's class).
    taken: HashMap<(i64, ChannelKind), u32>,
    /// The same, per subscriber.
    taken_total: HashMap<i64, u32>,
}

/// The budgets a send was checked against, to charge once it is allowed.
pub(super) type Charged = Vec<usize>;

/// Charges an allowed send to each budget that let it through.
pub(super) fn charge(
    states: &mut HashMap<usize, BudgetState>,
    charged: &Charged,
    candidate: &Candidate<'_>,
) {
    for index in charged {
        if let Some(state) = states.get_mut(index) {
            let id = candidate.recipient.id;
            *state.taken.entry((id, candidate.channel)).or_default() += 1;
            *state.taken_total.entry(id).or_default() += 1;
        }
    }
}

impl RuleSet {
    pub(super) async fn budget_facts(
        &self,
        conn: &impl ConnectionTrait,
        message: Message<'_>,
        now: DateTime<Utc>,
        candidates: &[Candidate<'_>],
        ids: &[i64],
        memo: &mut Memo,
    ) -> Result<HashMap<usize, BudgetState>> {
        let mut states = HashMap::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let RuleParams::FatigueBudget(budget) = &rule.params else {
                continue;
            };
            if Self::covered(rule, &ChannelKind::ALL, message.category).is_empty() {
                continue;
            }
            // From the earliest window start in the batch; each send is checked against
            // its subscriber's own start when counted.
            let earliest = candidates
                .iter()
                .map(|c| start_of(budget.window, None, cap_zone(memo, c.recipient), now))
                .min()
                .unwrap_or(now);
            let mut sends: HashMap<i64, Vec<_>> = HashMap::new();
            for send in facts::ledger_sends(conn, ids, earliest).await? {
                sends.entry(send.subscriber_id).or_default().push((
                    send.channel,
                    budget.class_of(&send.category),
                    send.at,
                ));
            }
            states.insert(
                index,
                BudgetState {
                    sends,
                    taken: HashMap::new(),
                    taken_total: HashMap::new(),
                },
            );
        }
        Ok(states)
    }

    /// The budgets a send fits in (to charge when it is allowed), or its deferral to
    /// the next window of the first budget it does not fit.
    pub(super) fn budget_room(
        &self,
        message: Message<'_>,
        candidate: &Candidate<'_>,
        now: DateTime<Utc>,
        states: &HashMap<usize, BudgetState>,
        memo: &mut Memo,
    ) -> std::result::Result<Charged, Decision> {
        let mut charged = Vec::new();
        for (index, rule) in self.applicable("fatigue_budget", candidate.channel, message.category)
        {
            let (RuleParams::FatigueBudget(budget), Some(state)) =
                (&rule.params, states.get(&index))
            else {
                continue;
            };
            let zone = cap_zone(memo, candidate.recipient);
            let class = budget.class_of(message.category);
            let start = start_of(budget.window, None, zone, now);
            let used = Used::count(state, candidate, class, start);
            let channel_max = budget.channel_max(candidate.channel);
            let over = if used.total >= budget.max {
                Some(format!("{} of {}", used.total, budget.max))
            } else {
                channel_max
                    .filter(|max| used.on_channel >= *max)
                    .map(|max| format!("{} of {max} on {}", used.on_channel, candidate.channel))
            };
            if let Some(over) = over {
                return Err(Decision::Deferred {
                    until: next_start(budget.window, zone, now),
                    rule_id: rule.model.id,
                    reason: Some(format!(
                        "deferred by budget `{}`: {over} {} sends {} used (a higher class may still send)",
                        rule.model.name,
                        class_words(budget, class),
                        window_words(budget.window),
                    )),
                });
            }
            charged.push(index);
        }
        Ok(charged)
    }
}

/// What counts against a send of `class`: its class and the higher ones.
struct Used {
    total: u32,
    on_channel: u32,
}

impl Used {
    fn count(
        state: &BudgetState,
        candidate: &Candidate<'_>,
        class: usize,
        start: DateTime<Utc>,
    ) -> Self {
        let (id, channel) = (candidate.recipient.id, candidate.channel);
        let mut used = Used {
            total: state.taken_total.get(&id).copied().unwrap_or(0),
            on_channel: state.taken.get(&(id, channel)).copied().unwrap_or(0),
        };
        for (sent_on, sent_class, at) in state.sends.get(&id).into_iter().flatten() {
            if *sent_class <= class && *at >= start {
                used.total += 1;
                used.on_channel += u32::from(*sent_on == Some(channel));
            }
        }
        used
    }
}

fn class_words(budget: &FatigueBudgetParams, class: usize) -> String {
    if class == 0 {
        format!("{} (the highest class)", budget.class_name(0))
    } else {
        format!("{} and higher", budget.class_name(class))
    }
}

fn window_words(window: CapWindow) -> &'static str {
    match window {
        CapWindow::Hour => "this hour",
        CapWindow::Day => "today",
        CapWindow::Week => "this week",
        CapWindow::Rolling => "in the window",
    }
}
