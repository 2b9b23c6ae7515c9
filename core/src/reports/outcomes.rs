//! Delivery outcomes counted by any of campaign, channel, day and status.

use std::cmp::Ordering;

use chrono::NaiveDate;
use sea_orm::ConnectionTrait;
use serde::Serialize;
use utoipa::ToSchema;

use super::filter::ReportFilter;
use super::group::{Group, Key, grouped};
use super::keys::{GroupKey, MessageKind};
use crate::error::Result;

/// One group: the keys grouped by, and how many deliveries it holds. Keys not grouped by
/// are absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OutcomeRow {
    /// By campaign: the campaign's id, null for transactional messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>)]
    pub campaign_id: Option<Option<i64>>,
    /// By campaign: the campaign's name, null for transactional messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub campaign_name: Option<Option<String>>,
    /// By campaign: `campaign`, or `transactional` for messages sent through the API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_kind: Option<MessageKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// By day: the UTC day the deliveries were created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    /// queued | filtered | deferred | sending | delivered | failed | dead | expired | cancelled
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutcomeReport {
    /// The keys each row is grouped by, in the order asked for.
    pub group_by: Vec<GroupKey>,
    /// Ordered by the keys in that order; transactional messages after campaigns.
    pub rows: Vec<OutcomeRow>,
    /// Every delivery counted.
    pub total: u64,
}

impl OutcomeRow {
    fn of(group: Group, keys: &[GroupKey]) -> Self {
        let by_campaign = keys.contains(&GroupKey::Campaign);
        Self {
            campaign_id: by_campaign.then_some(group.campaign_id),
            campaign_name: by_campaign.then_some(group.campaign_name),
            message_kind: by_campaign.then(|| MessageKind::of(group.campaign_id)),
            channel: group.channel,
            day: group.day,
            status: group.status,
            count: group.count,
        }
    }

    fn compare(&self, other: &Self, keys: &[GroupKey]) -> Ordering {
        // Campaigns by id, then transactional messages.
        let campaign = |row: &Self| row.campaign_id.flatten().map_or((1, 0), |id| (0, id));
        keys.iter()
            .map(|key| match key {
                GroupKey::Campaign => campaign(self).cmp(&campaign(other)),
                GroupKey::Channel => self.channel.cmp(&other.channel),
                GroupKey::Day => self.day.cmp(&other.day),
                GroupKey::Status => self.status.cmp(&other.status),
            })
            .find(|order| order.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

/// Deliveries matching `filter`, counted per combination of `group_by` (at least one
/// key). 422 naming `from` when the period ends before it starts.
pub async fn outcomes(
    conn: &impl ConnectionTrait,
    group_by: &[GroupKey],
    filter: &ReportFilter,
) -> Result<OutcomeReport> {
    let keys: Vec<Key> = group_by.iter().copied().map(Key::Group).collect();
    let mut rows: Vec<OutcomeRow> = grouped(conn, &keys, filter, false)
        .await?
        .into_iter()
        .map(|group| OutcomeRow::of(group, group_by))
        .collect();
    rows.sort_by(|a, b| a.compare(b, group_by));
    Ok(OutcomeReport {
        group_by: group_by.to_vec(),
        total: rows.iter().map(|row| row.count).sum(),
        rows,
    })
}
