//! Rule backtesting: a draft rule set applied to the delivery log of the last days,
//! before it is enabled. It answers what the rules would have held back or deferred:
//! per rule, per channel and per day, with sample subscribers.
//!
//! The log's attempted deliveries (delivered, failed, dead) are read in one ordered
//! pass, subscriber by subscriber and in time order, and replayed through the draft
//! rules in memory: a delivery a rule holds back does not count towards a later cap or
//! dedup window, as it would not have been sent. Memory holds one subscriber's sends at
//! a time. Keyword rules are not replayed: they are checked where content is written
//! (templates, campaign submission, each rendered send), which the log does not keep.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use futures::TryStreamExt;
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, StreamTrait};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::engine::windows::{start_of, window_start};
use super::params::{CapPer, DedupBy, QuietAction, RuleParams};
use super::quiet_hours::AllowedWindow;
use super::store::{RuleIn, RuleScope};
use crate::channel::ChannelKind;
use crate::error::{Error, Result};

/// Subscribers named per rule as samples.
const SAMPLES: usize = 10;

/// A draft rule set and how far back to try it.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BacktestIn {
    /// The draft rules, applied in this order (the first that holds a delivery back
    /// takes it). Frequency caps, quiet hours, dedup windows and fatigue budgets; 1 to 20.
    pub rules: Vec<RuleIn>,
    /// Days of the delivery log to replay, up to today: 1 to 90.
    #[validate(range(min = 1, max = 90))]
    pub days: u32,
}

/// What the draft rules would have done to the log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BacktestOut {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Attempted deliveries in the log over the period.
    pub examined: u64,
    /// Would have been held back (not sent).
    pub held: u64,
    /// Would have been deferred to a later time (quiet hours that defer, budgets).
    pub deferred: u64,
    pub rules: Vec<RuleEffect>,
}

/// What one draft rule would have done.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct RuleEffect {
    pub name: String,
    pub held: u64,
    pub deferred: u64,
    /// By channel: `[held, deferred]`.
    pub by_channel: BTreeMap<String, [u64; 2]>,
    /// By UTC day of the delivery: `[held, deferred]`.
    pub by_day: BTreeMap<NaiveDate, [u64; 2]>,
    /// Some of the subscribers it would have affected (external ids).
    pub samples: Vec<String>,
}

/// One attempted delivery, as the replay reads it.
#[derive(Debug, FromQueryResult)]
struct Sent {
    subscriber_id: i64,
    external_id: Option<String>,
    timezone: Option<String>,
    channel: String,
    category: String,
    template_id: Option<i64>,
    dedup_key: Option<String>,
    at: DateTime<Utc>,
}

/// A draft rule ready to replay.
struct Draft {
    scope: RuleScope,
    scope_value: Option<String>,
    exempt: Vec<String>,
    params: RuleParams,
    quiet: Option<(AllowedWindow, Tz)>,
}

/// What a rule does to a send.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Pass,
    Held,
    Deferred,
}

/// Replays the log of the last `input.days` days through `input.rules`.
pub async fn backtest<C>(conn: &C, input: BacktestIn, now: DateTime<Utc>) -> Result<BacktestOut>
where
    C: ConnectionTrait + StreamTrait,
{
    input.validate()?;
    if input.rules.is_empty() || input.rules.len() > 20 {
        return Err(Error::invalid("rules", "give 1 to 20 draft rules"));
    }
    let drafts = input
        .rules
        .iter()
        .enumerate()
        .map(|(index, rule)| draft(index, rule))
        .collect::<Result<Vec<_>>>()?;
    let from = now - Duration::days(i64::from(input.days));
    let mut out = BacktestOut {
        from,
        to: now,
        examined: 0,
        held: 0,
        deferred: 0,
        rules: input
            .rules
            .iter()
            .map(|rule| RuleEffect {
                name: rule.name.clone(),
                ..RuleEffect::default()
            })
            .collect(),
    };
    let backend = ConnectionTrait::get_database_backend(conn);
    let placeholder = if backend == DbBackend::Postgres {
        "$1"
    } else {
        "?1"
    };
    // The rows, and the shared entries (a bit per recipient of a shared inbox item,
    // see `deliveries::shared`) expanded to one row each by the 64 bit positions.
    let sql = format!(
        "WITH RECURSIVE bit_positions(n) AS \
           (SELECT 0 UNION ALL SELECT n + 1 FROM bit_positions WHERE n < 63) \
         SELECT d.subscriber_id, s.external_id, s.timezone, d.channel, m.category, \
                m.template_id, m.dedup_key, COALESCE(d.first_attempt_at, d.created_at) AS at \
         FROM deliveries d JOIN messages m ON m.id = d.message_id \
         LEFT JOIN subscribers s ON s.id = d.subscriber_id \
         WHERE d.created_at >= {placeholder} AND d.status IN ('delivered', 'failed', 'dead') \
         UNION ALL \
         SELECT sh.block * {block} + b.n, s.external_id, s.timezone, '{inbox}', m.category, \
                m.template_id, m.dedup_key, i.created_at \
         FROM inbox_items i JOIN messages m ON m.id = i.message_id \
         JOIN inbox_shares sh ON sh.item_id = i.id \
         JOIN bit_positions b ON ((sh.bits >> b.n) & 1) = 1 \
         LEFT JOIN subscribers s ON s.id = sh.block * {block} + b.n \
         WHERE i.logged_recipients > 0 AND i.created_at >= {placeholder} \
         ORDER BY 1, 8",
        block = crate::blocks::BLOCK,
        inbox = crate::channel::ChannelKind::Inbox.as_str(),
    );
    let statement = Statement::from_sql_and_values(backend, sql, [from.into()]);
    let mut rows = Sent::find_by_statement(statement).stream(conn).await?;
    let mut current: Option<i64> = None;
    // Per rule, the times of the subscriber's sends it let through, by its key.
    let mut passed: Vec<HashMap<String, Vec<DateTime<Utc>>>> = vec![HashMap::new(); drafts.len()];
    while let Some(sent) = rows.try_next().await? {
        out.examined += 1;
        if current != Some(sent.subscriber_id) {
            current = Some(sent.subscriber_id);
            passed.iter_mut().for_each(HashMap::clear);
        }
        for (index, rule) in drafts.iter().enumerate() {
            if !rule.applies(&sent) {
                continue;
            }
            let verdict = rule.judge(&sent, &mut passed[index]);
            if verdict == Verdict::Pass {
                continue;
            }
            let slot = usize::from(verdict == Verdict::Deferred);
            let effect = &mut out.rules[index];
            if verdict == Verdict::Held {
                (effect.held, out.held) = (effect.held + 1, out.held + 1);
            } else {
                (effect.deferred, out.deferred) = (effect.deferred + 1, out.deferred + 1);
            }
            effect.by_channel.entry(sent.channel.clone()).or_default()[slot] += 1;
            effect.by_day.entry(sent.at.date_naive()).or_default()[slot] += 1;
            if let Some(id) = &sent.external_id
                && effect.samples.len() < SAMPLES
                && !effect.samples.contains(id)
            {
                effect.samples.push(id.clone());
            }
            break;
        }
    }
    Ok(out)
}

/// Rule `index` of the set, checked and ready to replay.
fn draft(index: usize, rule: &RuleIn) -> Result<Draft> {
    let at = |field: &str| format!("rules[{index}].{field}");
    Validate::validate(rule).map_err(|errors| {
        let (field, message) = crate::error::first_validation_error(&errors);
        Error::invalid(at(&field), message)
    })?;
    rule.rule.validate().map_err(|errors| {
        let (field, message) = crate::error::first_validation_error(&errors);
        Error::invalid(at(&format!("params.{field}")), message)
    })?;
    if rule.scope != RuleScope::Global && rule.scope_value.is_none() {
        return Err(Error::invalid(
            at("scope_value"),
            "name the channel or category",
        ));
    }
    let quiet = match &rule.rule {
        RuleParams::Keyword(_) => {
            return Err(Error::invalid(
                at("kind"),
                "keyword rules are checked where content is written, not replayed from the log",
            ));
        }
        RuleParams::QuietHours(q) => {
            let clock =
                |text: &str| NaiveTime::parse_from_str(text, "%H:%M").unwrap_or(NaiveTime::MIN);
            let zone: Tz = q.default_timezone.parse().unwrap_or(Tz::UTC);
            Some((
                AllowedWindow {
                    from: clock(&q.allowed_from),
                    until: clock(&q.allowed_until),
                },
                zone,
            ))
        }
        _ => None,
    };
    Ok(Draft {
        scope: rule.scope,
        scope_value: rule.scope_value.clone(),
        exempt: rule.exempt_categories.clone(),
        params: rule.rule.clone(),
        quiet,
    })
}

impl Draft {
    fn applies(&self, sent: &Sent) -> bool {
        let value = self.scope_value.as_deref();
        let in_scope = match self.scope {
            RuleScope::Global => true,
            RuleScope::Channel => value == Some(sent.channel.as_str()),
            RuleScope::Category => value == Some(sent.category.as_str()),
        };
        in_scope && !self.exempt.contains(&sent.category)
    }

    fn zone(&self, sent: &Sent, fallback: Tz) -> Tz {
        sent.timezone
            .as_deref()
            .and_then(|zone| zone.parse().ok())
            .unwrap_or(fallback)
    }

    /// What the rule does to `sent`, given the sends it let through before (by key),
    /// which it updates.
    fn judge(&self, sent: &Sent, passed: &mut HashMap<String, Vec<DateTime<Utc>>>) -> Verdict {
        match &self.params {
            RuleParams::FrequencyCap(cap) => {
                let key = match cap.per {
                    CapPer::Channel => &sent.channel,
                    CapPer::Category => &sent.category,
                };
                let start = window_start(cap, self.zone(sent, Tz::UTC), sent.at);
                let times = passed.entry(key.clone()).or_default();
                let within = times.len() - times.partition_point(|t| *t < start);
                if within >= cap.max as usize {
                    return Verdict::Held;
                }
                times.push(sent.at);
                Verdict::Pass
            }
            RuleParams::QuietHours(q) => {
                let Some((window, fallback)) = self.quiet else {
                    return Verdict::Pass;
                };
                let local = sent.at.with_timezone(&self.zone(sent, fallback)).time();
                match (window.contains(local), q.action) {
                    (true, _) => Verdict::Pass,
                    (false, QuietAction::Defer) => Verdict::Deferred,
                    (false, QuietAction::Drop) => Verdict::Held,
                }
            }
            RuleParams::Dedup(dedup) => {
                let what = match dedup.by {
                    DedupBy::Template => sent.template_id.map(|id| id.to_string()),
                    DedupBy::DedupKey => sent.dedup_key.clone(),
                };
                let Some(what) = what else {
                    return Verdict::Pass;
                };
                let key = format!("{}\u{0}{what}", sent.channel);
                let start = sent.at - Duration::seconds(i64::from(dedup.window_secs));
                let times = passed.entry(key).or_default();
                if times.iter().any(|t| *t > start) {
                    return Verdict::Held;
                }
                times.push(sent.at);
                Verdict::Pass
            }
            RuleParams::FatigueBudget(budget) => {
                let class = budget.class_of(&sent.category);
                let start = start_of(budget.window, None, self.zone(sent, Tz::UTC), sent.at);
                // Only sends of this class and higher count against it.
                let used = |suffix: &str| -> usize {
                    (0..=class)
                        .filter_map(|j| passed.get(&format!("c{j}{suffix}")))
                        .map(|times| times.len() - times.partition_point(|t| *t < start))
                        .sum()
                };
                let on_channel = format!("\u{0}{}", sent.channel);
                let channel_full = ChannelKind::parse(&sent.channel)
                    .and_then(|channel| budget.channel_max(channel))
                    .is_some_and(|max| used(&on_channel) >= max as usize);
                if used("") >= budget.max as usize || channel_full {
                    return Verdict::Deferred;
                }
                for key in [format!("c{class}"), format!("c{class}{on_channel}")] {
                    passed.entry(key).or_default().push(sent.at);
                }
                Verdict::Pass
            }
            RuleParams::Keyword(_) => Verdict::Pass,
        }
    }
}
