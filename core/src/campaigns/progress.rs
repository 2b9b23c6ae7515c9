//! Live counters of a running campaign, read straight from its deliveries: one
//! aggregate query, so the numbers are always those of the delivery log itself.

use std::collections::{BTreeMap, HashMap};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Status, store};
use crate::deliveries::{DeliveryStatus, counts};
use crate::entities::{message, rule};
use crate::error::Result;

/// Deliveries by where they stand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Counts {
    /// Every delivery planned so far (one per recipient and channel).
    pub targeted: u64,
    pub queued: u64,
    /// Waiting for quiet hours or a local-time schedule.
    pub deferred: u64,
    pub sending: u64,
    /// Handed to a channel at least once.
    pub sent: u64,
    pub delivered: u64,
    pub filtered: u64,
    pub failed: u64,
    pub dead: u64,
    pub expired: u64,
    pub cancelled: u64,
}

impl Counts {
    /// Counts `count` deliveries in `status`, `sent` of which were handed to a channel.
    pub(crate) fn add(&mut self, status: DeliveryStatus, count: u64, sent: u64) {
        self.targeted += count;
        self.sent += sent;
        *match status {
            DeliveryStatus::Queued => &mut self.queued,
            DeliveryStatus::Deferred => &mut self.deferred,
            DeliveryStatus::Sending => &mut self.sending,
            DeliveryStatus::Delivered => &mut self.delivered,
            DeliveryStatus::Filtered => &mut self.filtered,
            DeliveryStatus::Failed => &mut self.failed,
            DeliveryStatus::Dead => &mut self.dead,
            DeliveryStatus::Expired => &mut self.expired,
            DeliveryStatus::Cancelled => &mut self.cancelled,
        } += count;
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelCounts {
    pub channel: String,
    #[serde(flatten)]
    pub counts: Counts,
}

/// Filtered deliveries of one check (and rule, where a rule decided).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FilteredBy {
    /// opted_out | no_address | blocked | dedup | quiet_hours | frequency_cap | keyword
    pub filter: String,
    pub rule_id: Option<i64>,
    pub rule_name: Option<String>,
    pub count: u64,
}

/// Deliveries waiting on one rule (quiet hours) or on the local-time schedule (no rule).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeferredBy {
    pub rule_id: Option<i64>,
    pub rule_name: Option<String>,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignProgress {
    pub campaign_id: i64,
    pub status: Status,
    /// Whether the whole audience has been planned; until then `targeted` grows.
    pub planned: bool,
    #[serde(flatten)]
    pub totals: Counts,
    pub channels: Vec<ChannelCounts>,
    pub filtered_by: Vec<FilteredBy>,
    pub deferred_by: Vec<DeferredBy>,
}

/// The campaign's counters now. 404 when the campaign does not exist.
pub async fn progress(conn: &impl ConnectionTrait, campaign_id: i64) -> Result<CampaignProgress> {
    let campaign = store::get(conn, campaign_id).await?;
    let message = message::Entity::find()
        .filter(message::Column::CampaignId.eq(campaign_id))
        .one(conn)
        .await?;
    let groups = match &message {
        Some(message) => counts::of_message(conn, message.id).await?,
        None => Vec::new(),
    };

    let mut totals = Counts::default();
    let mut channels: BTreeMap<String, Counts> = BTreeMap::new();
    let mut filtered: BTreeMap<(String, Option<i64>), u64> = BTreeMap::new();
    let mut deferred: BTreeMap<Option<i64>, u64> = BTreeMap::new();
    for group in groups {
        let Some(status) = DeliveryStatus::parse(&group.status) else {
            continue;
        };
        let (count, sent) = (group.count as u64, group.sent as u64);
        totals.add(status, count, sent);
        channels
            .entry(group.channel)
            .or_default()
            .add(status, count, sent);
        match status {
            DeliveryStatus::Filtered => {
                let filter = group.filter.unwrap_or_else(|| "unknown".to_owned());
                *filtered.entry((filter, group.rule_id)).or_default() += count;
            }
            DeliveryStatus::Deferred => *deferred.entry(group.rule_id).or_default() += count,
            _ => {}
        }
    }

    let rule_ids: Vec<i64> = filtered
        .keys()
        .filter_map(|(_, id)| *id)
        .chain(deferred.keys().filter_map(|id| *id))
        .collect();
    let names = rule_names(conn, rule_ids).await?;
    let name = |id: Option<i64>| id.and_then(|id| names.get(&id).cloned());
    Ok(CampaignProgress {
        campaign_id,
        status: Status::parse(&campaign.status).unwrap_or(Status::Draft),
        planned: message.is_some_and(|m| m.dispatched_at.is_some()),
        totals,
        channels: channels
            .into_iter()
            .map(|(channel, counts)| ChannelCounts { channel, counts })
            .collect(),
        filtered_by: filtered
            .into_iter()
            .map(|((filter, rule_id), count)| FilteredBy {
                filter,
                rule_id,
                rule_name: name(rule_id),
                count,
            })
            .collect(),
        deferred_by: deferred
            .into_iter()
            .map(|(rule_id, count)| DeferredBy {
                rule_id,
                rule_name: name(rule_id),
                count,
            })
            .collect(),
    })
}

/// Names of the rules with these ids (a deleted rule has none).
pub(crate) async fn rule_names(
    conn: &impl ConnectionTrait,
    ids: Vec<i64>,
) -> Result<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(rule::Entity::find()
        .select_only()
        .columns([rule::Column::Id, rule::Column::Name])
        .filter(rule::Column::Id.is_in(ids))
        .into_tuple::<(i64, String)>()
        .all(conn)
        .await?
        .into_iter()
        .collect())
}
