//! The rules engine. For a batch of (subscriber, channel) candidates of one message at
//! one instant it decides, for each: allow, filtered (which rule, and why in words), or
//! deferred (until when). Checks run in a fixed order: opt-outs, an address to send to,
//! block and allow lists, dedup, quiet hours, fatigue budgets, frequency caps. Everything
//! it reads comes from one query per kind of fact over the whole batch, never one per
//! recipient.
//!
//! Frequency caps and budgets count the send ledger plus what this batch already
//! allowed, so two candidates of one subscriber cannot both take the last slot.
//! Reserving the slots against other workers is the delivery engine's job.

mod budget;
mod displace;
pub mod facts;
pub mod windows;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;
use sea_orm::{ConnectionTrait, FromQueryResult};
use serde::Serialize;
use utoipa::ToSchema;

pub use self::displace::Displaced;
use self::facts::{DedupMatch, LedgerScope, ListHit, ListProbe};
use super::params::{CapPer, DedupBy, QuietAction, RuleParams};
use super::quiet_hours::AllowedWindow;
use super::store::{Rule, enabled_of_kinds};
use crate::channel::ChannelKind;
use crate::entities::by_position::all_by_position;
use crate::entities::subscriber;
use crate::error::Result;

/// Enabled endpoint addresses by subscriber and channel: what the address and list
/// checks read.
pub type Addresses = HashMap<(i64, ChannelKind), Vec<String>>;

/// What the engine needs of a subscriber.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Recipient {
    pub id: i64,
    pub external_id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub timezone: Option<String>,
}

impl From<&subscriber::Model> for Recipient {
    fn from(model: &subscriber::Model) -> Self {
        Self {
            id: model.id,
            external_id: model.external_id.clone(),
            email: model.email.clone(),
            phone: model.phone.clone(),
            timezone: model.timezone.clone(),
        }
    }
}

impl Recipient {
    /// One page of an audience (`filter`) in id order; `after_id` is the previous
    /// page's last id.
    pub async fn page(
        conn: &impl ConnectionTrait,
        filter: sea_orm::Condition,
        after_id: Option<i64>,
        limit: u64,
    ) -> Result<Vec<Recipient>> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
        let mut query = subscriber::Entity::find().filter(filter);
        if let Some(id) = after_id {
            query = query.filter(subscriber::Column::Id.gt(id));
        }
        let query = query.order_by_asc(subscriber::Column::Id).limit(limit);
        Ok(all_by_position(conn, query).await?)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub recipient: &'a Recipient,
    pub channel: ChannelKind,
}

/// The message being decided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    pub category: &'a str,
    pub template_id: Option<i64>,
    pub dedup_key: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FilterKind {
    /// The subscriber opted out of this channel or category.
    OptedOut,
    /// No email address, or no enabled endpoint on the channel.
    NoAddress,
    /// A block list entry matched and no allow entry did.
    Blocked,
    Dedup,
    /// A quiet-hours rule that drops instead of deferring.
    QuietHours,
    FrequencyCap,
    /// A keyword rule's banned word in the content as rendered for the subscriber.
    Keyword,
}

impl FilterKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FilterKind::OptedOut => "opted_out",
            FilterKind::NoAddress => "no_address",
            FilterKind::Blocked => "blocked",
            FilterKind::Dedup => "dedup",
            FilterKind::QuietHours => "quiet_hours",
            FilterKind::FrequencyCap => "frequency_cap",
            FilterKind::Keyword => "keyword",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Filtered {
        filter: FilterKind,
        /// The rule that filtered (none for opt-outs, addresses and list entries).
        rule_id: Option<i64>,
        /// The matching list entry, for `blocked`.
        list_entry_id: Option<i64>,
        reason: String,
    },
    Deferred {
        until: DateTime<Utc>,
        rule_id: i64,
        /// Why, when the rule says more than its name (a budget: what was used).
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl Decision {
    fn filtered(filter: FilterKind, rule_id: Option<i64>, reason: String) -> Self {
        Decision::Filtered {
            filter,
            rule_id,
            list_entry_id: None,
            reason,
        }
    }
}

/// A snapshot of what decides per recipient: the enabled rules, and the list entries
/// (all of them when few, else which kinds exist). Load it once per campaign run or
/// batch; changes after that are not seen.
pub struct RuleSet {
    rules: Vec<Rule>,
    /// The kinds of list entry that exist: a batch is only matched on those.
    list_kinds: Vec<&'static str>,
    /// All list entries, when there are few enough to hold (see [`LIST_SNAPSHOT_LIMIT`]).
    lists: Option<facts::ListHits>,
}

/// Up to this many list entries are held in memory for a run instead of being looked up
/// for every batch.
pub const LIST_SNAPSHOT_LIMIT: u64 = 100_000;

/// [`RuleSet::load_for`] holds list entries up to this many per recipient: reading them
/// all costs about what querying them for the recipients would.
const ENTRIES_PER_RECIPIENT: u64 = 16;

/// Per-evaluation caches: zones parsed and quiet-hours openings computed once per zone.
#[derive(Default)]
struct Memo {
    zones: HashMap<String, Option<Tz>>,
    openings: HashMap<(usize, Tz), Option<DateTime<Utc>>>,
}

impl Memo {
    fn zone(&mut self, name: Option<&str>) -> Option<Tz> {
        let name = name?;
        if let Some(zone) = self.zones.get(name) {
            return *zone;
        }
        let zone = name.parse().ok();
        self.zones.insert(name.to_owned(), zone);
        zone
    }
}

/// A cap's counts for the batch: from the ledger, and what the batch has allowed so far.
struct CapState {
    counts: HashMap<(i64, Option<ChannelKind>), u32>,
    taken: HashMap<(i64, Option<ChannelKind>), u32>,
}

impl RuleSet {
    pub async fn load(conn: &impl ConnectionTrait) -> Result<Self> {
        Self::load_with_list_limit(conn, LIST_SNAPSHOT_LIMIT).await
    }

    /// For deciding a few recipients once (an API send): list entries are held only when
    /// there are few next to the recipients, so a send to one subscriber never reads a
    /// 100,000-entry block list; otherwise the lists are queried for the recipients.
    pub async fn load_for(conn: &impl ConnectionTrait, recipients: usize) -> Result<Self> {
        let limit = (recipients as u64).saturating_mul(ENTRIES_PER_RECIPIENT);
        Self::load_with_list_limit(conn, limit.min(LIST_SNAPSHOT_LIMIT)).await
    }

    /// Like [`RuleSet::load`], holding list entries in memory only up to `limit`.
    pub async fn load_with_list_limit(conn: &impl ConnectionTrait, limit: u64) -> Result<Self> {
        let rules = enabled_of_kinds(
            conn,
            &["frequency_cap", "quiet_hours", "dedup", "fatigue_budget"],
        )
        .await?;
        let lists = facts::all_list_entries(conn, limit).await?;
        let list_kinds = match lists {
            Some(_) => Vec::new(),
            None => facts::list_kinds_in_use(conn).await?,
        };
        Ok(Self {
            rules,
            list_kinds,
            lists,
        })
    }

    /// Whether every list entry is held in memory (else they are queried per batch).
    pub fn holds_list_entries(&self) -> bool {
        self.lists.is_some()
    }

    pub fn rule_name(&self, id: i64) -> Option<&str> {
        self.rules
            .iter()
            .find(|r| r.model.id == id)
            .map(|r| r.model.name.as_str())
    }

    /// Decides every candidate; the answer is in the candidates' order. A (recipient,
    /// channel) may come more than once (messages alike in category, template and
    /// dedup key, planned together): each is decided as if those before it were sent.
    pub async fn evaluate(
        &self,
        conn: &impl ConnectionTrait,
        message: Message<'_>,
        now: DateTime<Utc>,
        candidates: &[Candidate<'_>],
    ) -> Result<Vec<Decision>> {
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let endpoint_channels: Vec<ChannelKind> = ChannelKind::ALL
            .into_iter()
            .filter(|k| uses_endpoints(*k) && candidates.iter().any(|c| c.channel == *k))
            .collect();
        let endpoints = facts::endpoints(conn, &ids_of(candidates), &endpoint_channels).await?;
        self.evaluate_knowing(conn, message, now, candidates, &endpoints)
            .await
    }

    /// [`Self::evaluate`] with the candidates' enabled endpoint addresses already read
    /// (on the push, webhook and MQTT channels; more subscribers may be in `endpoints`).
    pub async fn evaluate_knowing(
        &self,
        conn: &impl ConnectionTrait,
        message: Message<'_>,
        now: DateTime<Utc>,
        candidates: &[Candidate<'_>],
        endpoints: &Addresses,
    ) -> Result<Vec<Decision>> {
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let ids = ids_of(candidates);
        let mut memo = Memo::default();

        let preferences = facts::preferences(conn, &ids, message.category).await?;
        let queried;
        let list_hits = match &self.lists {
            Some(all) => all,
            None => {
                let probe = probe(candidates, endpoints, &self.list_kinds);
                queried = facts::list_hits(conn, probe, now).await?;
                &queried
            }
        };
        let sent_before = self.dedup_facts(conn, message, now, &ids).await?;
        let mut caps = self
            .cap_facts(conn, message, now, candidates, &ids, &mut memo)
            .await?;
        let mut budgets = self
            .budget_facts(conn, message, now, candidates, &ids, &mut memo)
            .await?;
        let mut allowed_pairs = HashSet::new();

        let mut decisions = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            let recipient = candidate.recipient;
            let channel = candidate.channel;
            let decision =
                if facts::is_opted_out(&preferences, recipient.id, channel, message.category) {
                    Decision::filtered(
                        FilterKind::OptedOut,
                        None,
                        format!("opted out of {} on {channel}", message.category),
                    )
                } else if let Some(missing) = missing_address(candidate, endpoints) {
                    Decision::filtered(FilterKind::NoAddress, None, missing)
                } else if let Some(blocked) = blocked(candidate, now, endpoints, list_hits) {
                    blocked
                } else if let Some(duplicate) =
                    self.duplicate(message, candidate, &sent_before, &allowed_pairs)
                {
                    duplicate
                } else if let Some(quiet) = self.quiet_hours(message, candidate, now, &mut memo) {
                    quiet
                } else {
                    // A budget is checked first but charged only once every cap has room.
                    match self.budget_room(message, candidate, now, &budgets, &mut memo) {
                        Err(deferred) => deferred,
                        Ok(charged) => {
                            if let Some(capped) =
                                self.capped(message, candidate, now, &mut caps, &mut memo)
                            {
                                capped
                            } else {
                                budget::charge(&mut budgets, &charged, candidate);
                                allowed_pairs.insert((recipient.id, channel));
                                Decision::Allow
                            }
                        }
                    }
                };
            decisions.push(decision);
        }
        Ok(decisions)
    }

    /// The rules of one kind that cover a send on `channel` in the message's category.
    fn applicable<'s>(
        &'s self,
        kind: &'static str,
        channel: ChannelKind,
        category: &'s str,
    ) -> impl Iterator<Item = (usize, &'s Rule)> + 's {
        self.rules.iter().enumerate().filter(move |(_, r)| {
            r.params.kind() == kind && r.applies_to(Some(channel), Some(category))
        })
    }

    /// Channels among `channels` that a rule covers for this category.
    fn covered(rule: &Rule, channels: &[ChannelKind], category: &str) -> Vec<ChannelKind> {
        channels
            .iter()
            .copied()
            .filter(|c| rule.applies_to(Some(*c), Some(category)))
            .collect()
    }

    async fn dedup_facts(
        &self,
        conn: &impl ConnectionTrait,
        message: Message<'_>,
        now: DateTime<Utc>,
        ids: &[i64],
    ) -> Result<HashMap<usize, HashSet<(i64, ChannelKind)>>> {
        let mut sent = HashMap::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let RuleParams::Dedup(params) = &rule.params else {
                continue;
            };
            let Some(matching) = dedup_match(params.by, message) else {
                continue;
            };
            let channels = Self::covered(rule, &ChannelKind::ALL, message.category);
            if channels.is_empty() {
                continue;
            }
            let since = now - Duration::seconds(i64::from(params.window_secs));
            let pairs = facts::already_sent(conn, ids, &channels, matching, since).await?;
            sent.insert(index, pairs);
        }
        Ok(sent)
    }

    fn duplicate(
        &self,
        message: Message<'_>,
        candidate: &Candidate<'_>,
        sent_before: &HashMap<usize, HashSet<(i64, ChannelKind)>>,
        allowed_pairs: &HashSet<(i64, ChannelKind)>,
    ) -> Option<Decision> {
        let pair = (candidate.recipient.id, candidate.channel);
        self.applicable("dedup", candidate.channel, message.category)
            // A rule that does not match this message (one by key, for a message
            // without a key) has no facts and finds no duplicate.
            .find(|(index, _)| {
                sent_before
                    .get(index)
                    .is_some_and(|s| s.contains(&pair) || allowed_pairs.contains(&pair))
            })
            .map(|(_, rule)| {
                let window = match &rule.params {
                    RuleParams::Dedup(p) => p.window_secs,
                    _ => 0,
                };
                Decision::filtered(
                    FilterKind::Dedup,
                    Some(rule.model.id),
                    format!(
                        "rule `{}`: already sent on {} within {window} s",
                        rule.model.name, candidate.channel
                    ),
                )
            })
    }

    /// A drop wins over a deferral; several deferrals wait for the latest opening.
    fn quiet_hours(
        &self,
        message: Message<'_>,
        candidate: &Candidate<'_>,
        now: DateTime<Utc>,
        memo: &mut Memo,
    ) -> Option<Decision> {
        let mut deferred: Option<Decision> = None;
        for (index, rule) in self.applicable("quiet_hours", candidate.channel, message.category) {
            let RuleParams::QuietHours(params) = &rule.params else {
                continue;
            };
            let zone = memo
                .zone(candidate.recipient.timezone.as_deref())
                .or_else(|| params.default_timezone.parse().ok())
                .unwrap_or(Tz::UTC);
            let opening = *memo.openings.entry((index, zone)).or_insert_with(|| {
                allowed_window(&params.allowed_from, &params.allowed_until)
                    .and_then(|w| w.next_opening(zone, now))
            });
            let Some(until) = opening else {
                continue;
            };
            match params.action {
                QuietAction::Drop => {
                    return Some(Decision::filtered(
                        FilterKind::QuietHours,
                        Some(rule.model.id),
                        format!(
                            "rule `{}`: outside {}–{} in {zone}",
                            rule.model.name, params.allowed_from, params.allowed_until
                        ),
                    ));
                }
                QuietAction::Defer => {
                    let later = match &deferred {
                        Some(Decision::Deferred { until: current, .. }) => until > *current,
                        _ => true,
                    };
                    if later {
                        deferred = Some(Decision::Deferred {
                            until,
                            rule_id: rule.model.id,
                            reason: None,
                        });
                    }
                }
            }
        }
        deferred
    }

    async fn cap_facts(
        &self,
        conn: &impl ConnectionTrait,
        message: Message<'_>,
        now: DateTime<Utc>,
        candidates: &[Candidate<'_>],
        ids: &[i64],
        memo: &mut Memo,
    ) -> Result<HashMap<usize, CapState>> {
        let mut states = HashMap::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let RuleParams::FrequencyCap(cap) = &rule.params else {
                continue;
            };
            let channels = Self::covered(rule, &ChannelKind::ALL, message.category);
            if channels.is_empty() {
                continue;
            }
            let scope = match cap.per {
                CapPer::Channel => LedgerScope::Channels(&channels),
                CapPer::Category => LedgerScope::Category(message.category),
            };
            let counts = if windows::is_local(cap) {
                // Days and weeks start at each subscriber's own midnight: fetch the send
                // times since the earliest start in the batch and count each against its
                // subscriber's start. The rows are bounded by a week of sends.
                let mut start_in: HashMap<Tz, DateTime<Utc>> = HashMap::new();
                let mut start_of = HashMap::new();
                for candidate in candidates {
                    let zone = cap_zone(memo, candidate.recipient);
                    let start = *start_in
                        .entry(zone)
                        .or_insert_with(|| windows::window_start(cap, zone, now));
                    start_of.insert(candidate.recipient.id, start);
                }
                let earliest = start_in.values().min().copied().unwrap_or(now);
                let mut counts: HashMap<(i64, Option<ChannelKind>), u32> = HashMap::new();
                for (id, channel, at) in facts::ledger_times(conn, ids, &scope, earliest).await? {
                    if start_of.get(&id).is_some_and(|start| at >= *start) {
                        *counts.entry((id, channel)).or_default() += 1;
                    }
                }
                counts
            } else {
                let since = windows::window_start(cap, Tz::UTC, now);
                facts::ledger_counts(conn, ids, &scope, since).await?
            };
            states.insert(
                index,
                CapState {
                    counts,
                    taken: HashMap::new(),
                },
            );
        }
        Ok(states)
    }

    /// Checks every applicable cap; only when all have room is a slot taken in each.
    fn capped(
        &self,
        message: Message<'_>,
        candidate: &Candidate<'_>,
        now: DateTime<Utc>,
        caps: &mut HashMap<usize, CapState>,
        memo: &mut Memo,
    ) -> Option<Decision> {
        let mut keys = Vec::new();
        for (index, rule) in self.applicable("frequency_cap", candidate.channel, message.category) {
            let (RuleParams::FrequencyCap(cap), Some(state)) = (&rule.params, caps.get(&index))
            else {
                continue;
            };
            let key = (
                candidate.recipient.id,
                (cap.per == CapPer::Channel).then_some(candidate.channel),
            );
            let used = state.counts.get(&key).copied().unwrap_or(0)
                + state.taken.get(&key).copied().unwrap_or(0);
            if used >= cap.max {
                let zone = cap_zone(memo, candidate.recipient);
                let since = windows::window_start(cap, zone, now);
                return Some(Decision::filtered(
                    FilterKind::FrequencyCap,
                    Some(rule.model.id),
                    format!(
                        "rule `{}`: {} {} reached ({used} since {})",
                        rule.model.name,
                        cap.max,
                        windows::describe(cap),
                        since.format("%Y-%m-%d %H:%M UTC")
                    ),
                ));
            }
            keys.push((index, key));
        }
        for (index, key) in keys {
            if let Some(state) = caps.get_mut(&index) {
                *state.taken.entry(key).or_default() += 1;
            }
        }
        None
    }
}

fn cap_zone(memo: &mut Memo, recipient: &Recipient) -> Tz {
    memo.zone(recipient.timezone.as_deref()).unwrap_or(Tz::UTC)
}

fn allowed_window(from: &str, until: &str) -> Option<AllowedWindow> {
    Some(AllowedWindow {
        from: NaiveTime::parse_from_str(from, "%H:%M").ok()?,
        until: NaiveTime::parse_from_str(until, "%H:%M").ok()?,
    })
}

fn dedup_match(by: DedupBy, message: Message<'_>) -> Option<DedupMatch<'_>> {
    match by {
        DedupBy::Template => message.template_id.map(DedupMatch::Template),
        DedupBy::DedupKey => message.dedup_key.map(DedupMatch::Key),
    }
}

/// Push and webhook deliveries go to a subscriber's registered endpoints; MQTT may
/// publish to a topic derived from the subscriber, but its endpoints are still checked
/// against the lists.
fn uses_endpoints(channel: ChannelKind) -> bool {
    matches!(
        channel,
        ChannelKind::Push | ChannelKind::Webhook | ChannelKind::Mqtt
    )
}

/// The distinct subscribers of a batch.
fn ids_of(candidates: &[Candidate<'_>]) -> Vec<i64> {
    candidates
        .iter()
        .map(|c| c.recipient.id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect()
}

fn missing_address(candidate: &Candidate<'_>, endpoints: &Addresses) -> Option<String> {
    let has_endpoint = || endpoints.contains_key(&(candidate.recipient.id, candidate.channel));
    match candidate.channel {
        ChannelKind::Email if candidate.recipient.email.is_none() => {
            Some("no email address".into())
        }
        ChannelKind::Push | ChannelKind::Webhook if !has_endpoint() => {
            Some(format!("no enabled {} endpoint", candidate.channel))
        }
        _ => None,
    }
}

fn email_domain(email: &str) -> Option<&str> {
    email.rsplit_once('@').map(|(_, domain)| domain)
}

fn probe(candidates: &[Candidate<'_>], endpoints: &Addresses, kinds: &[&str]) -> ListProbe {
    let wanted = |kind: &str| kinds.contains(&kind);
    let mut probe = ListProbe::default();
    let mut seen = HashSet::new();
    for candidate in candidates {
        let recipient = candidate.recipient;
        if !seen.insert(recipient.id) {
            continue;
        }
        if wanted("subscriber") {
            probe.subscribers.push(recipient.external_id.clone());
        }
        if let Some(email) = &recipient.email {
            if wanted("email") {
                probe.emails.push(email.clone());
            }
            if let Some(domain) = email_domain(email).filter(|_| wanted("email_domain")) {
                probe.domains.push(domain.to_owned());
            }
        }
        if let Some(phone) = recipient.phone.as_ref().filter(|_| wanted("phone")) {
            probe.phones.push(phone.clone());
        }
    }
    if wanted("endpoint") {
        probe.endpoints = endpoints.values().flatten().cloned().collect();
    }
    probe.domains.sort_unstable();
    probe.domains.dedup();
    probe
}

/// Entries for the subscriber itself apply on every channel they name; endpoint entries
/// block a channel only when every endpoint the subscriber has there is blocked. Any
/// matching allow entry wins over block entries.
fn blocked(
    candidate: &Candidate<'_>,
    now: DateTime<Utc>,
    endpoints: &Addresses,
    hits: &facts::ListHits,
) -> Option<Decision> {
    if hits.is_empty() {
        return None;
    }
    let recipient = candidate.recipient;
    let channel = candidate.channel;
    let applies = |hit: &&ListHit| hit.active_at(now) && hit.channel.is_none_or(|c| c == channel);
    let lookup = |kind: &str, value: &str| -> Vec<&ListHit> {
        hits.get(kind)
            .and_then(|by_value| by_value.get(value))
            .map(|v| v.iter().filter(applies).collect())
            .unwrap_or_default()
    };
    let mut identity = lookup("subscriber", &recipient.external_id);
    if let Some(email) = &recipient.email {
        identity.extend(lookup("email", email));
        if let Some(domain) = email_domain(email) {
            identity.extend(lookup("email_domain", domain));
        }
    }
    if let Some(phone) = &recipient.phone {
        identity.extend(lookup("phone", phone));
    }
    let addresses = endpoints
        .get(&(recipient.id, channel))
        .map(Vec::as_slice)
        .unwrap_or_default();
    let per_endpoint: Vec<Vec<&ListHit>> =
        addresses.iter().map(|a| lookup("endpoint", a)).collect();

    let allowed = identity
        .iter()
        .chain(per_endpoint.iter().flatten())
        .any(|hit| hit.allow);
    if allowed {
        return None;
    }
    let block = identity.into_iter().find(|hit| !hit.allow).or_else(|| {
        let all_blocked = !per_endpoint.is_empty()
            && per_endpoint
                .iter()
                .all(|hits| hits.iter().any(|h| !h.allow));
        all_blocked
            .then(|| per_endpoint.iter().flatten().copied().find(|h| !h.allow))
            .flatten()
    })?;
    let mut reason = format!("block list entry {} ({})", block.id, block.kind);
    if !block.reason.is_empty() {
        reason.push_str(": ");
        reason.push_str(&block.reason);
    }
    Some(Decision::Filtered {
        filter: FilterKind::Blocked,
        rule_id: None,
        list_entry_id: Some(block.id),
        reason,
    })
}
