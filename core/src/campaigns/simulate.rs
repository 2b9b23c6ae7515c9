//! Simulating a campaign: the rules engine run over the whole audience, page by page,
//! without sending or recording anything. The counts are the engine's own decisions, so
//! a reviewer sees what would happen if the campaign went out at that instant.

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, Utc};
use sea_orm::{AccessMode, ConnectionTrait, IsolationLevel, TransactionSession, TransactionTrait};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::snapshot;
use super::store::{self, Schedule};
use crate::audiences::store as audiences;
use crate::channel::ChannelKind;
use crate::db::{is_postgres, prefer_generic_plans};
use crate::entities::campaign;
use crate::error::{Error, Result};
use crate::rules::engine::{Candidate, Decision, FilterKind, Message, Recipient, RuleSet};

/// Recipients per engine batch. SQLite binds every list value separately, so its
/// batches stay well below its 32,766-parameter limit.
fn page_size(conn: &impl ConnectionTrait) -> u64 {
    if is_postgres(conn) { 10_000 } else { 2_000 }
}

#[derive(Debug, Clone, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateIn {
    /// The instant to decide at; the scheduled time (or now) when absent.
    pub at: Option<DateTime<Utc>>,
    /// How many example decisions to return (filtered and deferred ones first).
    #[validate(range(max = 200))]
    pub sample: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Outcomes {
    pub allowed: u64,
    pub filtered: u64,
    pub deferred: u64,
}

impl Outcomes {
    fn add(&mut self, decision: &Decision) {
        match decision {
            Decision::Allow => self.allowed += 1,
            Decision::Filtered { .. } => self.filtered += 1,
            Decision::Deferred { .. } => self.deferred += 1,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelOutcomes {
    pub channel: ChannelKind,
    #[serde(flatten)]
    pub outcomes: Outcomes,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FilterCount {
    pub filter: FilterKind,
    pub rule_id: Option<i64>,
    pub rule_name: Option<String>,
    pub count: u64,
}

/// Deferred deliveries by rule and by the hour they would go out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeferralCount {
    pub rule_id: i64,
    pub rule_name: Option<String>,
    /// The start of the hour (UTC) the deliveries are deferred into.
    pub hour: DateTime<Utc>,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SampledDecision {
    pub external_id: String,
    pub channel: ChannelKind,
    #[serde(flatten)]
    pub decision: Decision,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Simulation {
    pub campaign_id: i64,
    /// The instant decided at.
    pub at: DateTime<Utc>,
    /// Subscribers in the audience.
    pub subscribers: u64,
    /// Subscriber × channel pairs decided.
    pub deliveries: u64,
    #[serde(flatten)]
    pub outcomes: Outcomes,
    pub channels: Vec<ChannelOutcomes>,
    pub filtered_by: Vec<FilterCount>,
    pub deferred_by: Vec<DeferralCount>,
    pub sample: Vec<SampledDecision>,
}

/// Tallies decisions as pages go by.
struct Tally {
    subscribers: u64,
    outcomes: Outcomes,
    channels: BTreeMap<&'static str, (ChannelKind, Outcomes)>,
    filters: BTreeMap<(FilterKind, Option<i64>), u64>,
    deferrals: BTreeMap<(i64, DateTime<Utc>), u64>,
    sample_limit: usize,
    unusual: Vec<SampledDecision>,
    allowed: Vec<SampledDecision>,
}

impl Tally {
    fn add(&mut self, candidate: &Candidate<'_>, decision: Decision) {
        self.outcomes.add(&decision);
        self.channels
            .entry(candidate.channel.as_str())
            .or_insert_with(|| (candidate.channel, Outcomes::default()))
            .1
            .add(&decision);
        match &decision {
            Decision::Filtered {
                filter, rule_id, ..
            } => *self.filters.entry((*filter, *rule_id)).or_default() += 1,
            Decision::Deferred { until, rule_id, .. } => {
                let hour = until
                    .duration_trunc(chrono::Duration::hours(1))
                    .unwrap_or(*until);
                *self.deferrals.entry((*rule_id, hour)).or_default() += 1;
            }
            Decision::Allow => {}
        }
        let bucket = if matches!(decision, Decision::Allow) {
            &mut self.allowed
        } else {
            &mut self.unusual
        };
        if bucket.len() < self.sample_limit {
            bucket.push(SampledDecision {
                external_id: candidate.recipient.external_id.clone(),
                channel: candidate.channel,
                decision,
            });
        }
    }
}

/// The default instant: a future scheduled time, otherwise now.
fn default_instant(model: &campaign::Model, now: DateTime<Utc>) -> DateTime<Utc> {
    match serde_json::from_value::<Schedule>(model.schedule.clone()) {
        Ok(Schedule::At { at }) if at > now => at,
        _ => now,
    }
}

/// Runs in one read-only snapshot, so the counts describe a single moment of the data.
pub async fn simulate<C>(db: &C, campaign_id: i64, input: SimulateIn) -> Result<Simulation>
where
    C: ConnectionTrait + TransactionTrait,
{
    input.validate()?;
    let txn = if is_postgres(db) {
        db.begin_with_config(
            Some(IsolationLevel::RepeatableRead),
            Some(AccessMode::ReadOnly),
        )
        .await?
    } else {
        db.begin().await?
    };
    prefer_generic_plans(&txn).await?;
    let conn = &txn;
    let model = store::get(conn, campaign_id).await?;
    let at = input
        .at
        .unwrap_or_else(|| default_instant(&model, Utc::now()));
    let channels: Vec<ChannelKind> = serde_json::from_value(model.channels.clone())
        .map_err(|e| Error::invalid("channels", format!("stored channels unreadable: {e}")))?;
    let audience = audiences::get(conn, model.audience_id).await?;
    let rules = RuleSet::load(conn).await?;
    let message = Message {
        category: &model.category,
        template_id: Some(model.template_id),
        dedup_key: None,
    };

    let mut tally = Tally {
        subscribers: 0,
        outcomes: Outcomes::default(),
        channels: BTreeMap::new(),
        filters: BTreeMap::new(),
        deferrals: BTreeMap::new(),
        sample_limit: input.sample.unwrap_or(20) as usize,
        unusual: Vec::new(),
        allowed: Vec::new(),
    };
    let mut after_id = None;
    loop {
        let recipients = snapshot::recipients(conn, &model, &audience, after_id)?;
        let page = Recipient::page(conn, recipients, after_id, page_size(conn)).await?;
        let Some(last) = page.last() else { break };
        after_id = Some(last.id);
        tally.subscribers += page.len() as u64;
        let candidates: Vec<Candidate<'_>> = page
            .iter()
            .flat_map(|recipient| {
                channels.iter().map(move |channel| Candidate {
                    recipient,
                    channel: *channel,
                })
            })
            .collect();
        let decisions = rules.evaluate(conn, message, at, &candidates).await?;
        for (candidate, decision) in candidates.iter().zip(decisions) {
            tally.add(candidate, decision);
        }
    }
    txn.commit().await?;
    Ok(finish(campaign_id, at, &rules, tally))
}

fn finish(campaign_id: i64, at: DateTime<Utc>, rules: &RuleSet, tally: Tally) -> Simulation {
    let name = |id: Option<i64>| id.and_then(|id| rules.rule_name(id)).map(str::to_owned);
    let mut sample = tally.unusual;
    let room = tally.sample_limit.saturating_sub(sample.len());
    sample.extend(tally.allowed.into_iter().take(room));
    let outcomes = tally.outcomes;
    Simulation {
        campaign_id,
        at,
        subscribers: tally.subscribers,
        deliveries: outcomes.allowed + outcomes.filtered + outcomes.deferred,
        outcomes,
        channels: tally
            .channels
            .into_values()
            .map(|(channel, outcomes)| ChannelOutcomes { channel, outcomes })
            .collect(),
        filtered_by: tally
            .filters
            .into_iter()
            .map(|((filter, rule_id), count)| FilterCount {
                filter,
                rule_id,
                rule_name: name(rule_id),
                count,
            })
            .collect(),
        deferred_by: tally
            .deferrals
            .into_iter()
            .map(|((rule_id, hour), count)| DeferralCount {
                rule_id,
                rule_name: name(Some(rule_id)),
                hour,
                count,
            })
            .collect(),
        sample,
    }
}
