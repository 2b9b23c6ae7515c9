//! A funnel per campaign — targeted, sent, delivered, and where the rest stopped — from
//! one `GROUP BY` campaign and status.

use std::collections::BTreeMap;

use sea_orm::ConnectionTrait;
use serde::Serialize;
use utoipa::ToSchema;

use super::filter::ReportFilter;
use super::group::{Key, grouped};
use super::keys::{GroupKey, MessageKind};
use crate::campaigns::progress::Counts;
use crate::deliveries::DeliveryStatus;
use crate::error::Result;

/// One campaign's deliveries (or those of every transactional message) by where they
/// stand, with the same counters as a campaign's live progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FunnelRow {
    /// Null for transactional messages.
    pub campaign_id: Option<i64>,
    pub campaign_name: Option<String>,
    pub message_kind: MessageKind,
    #[serde(flatten)]
    pub counts: Counts,
}

/// Deliveries matching `filter`, per campaign (campaigns by id, then transactional
/// messages as one row).
pub async fn funnel(conn: &impl ConnectionTrait, filter: &ReportFilter) -> Result<Vec<FunnelRow>> {
    let keys = [Key::Group(GroupKey::Campaign), Key::Group(GroupKey::Status)];
    // Keyed so that campaigns come by id and transactional messages last.
    let mut rows: BTreeMap<(bool, i64), FunnelRow> = BTreeMap::new();
    for group in grouped(conn, &keys, filter, true).await? {
        let Some(status) = group.status.as_deref().and_then(DeliveryStatus::parse) else {
            continue;
        };
        let key = (group.campaign_id.is_none(), group.campaign_id.unwrap_or(0));
        rows.entry(key)
            .or_insert_with(|| FunnelRow {
                campaign_id: group.campaign_id,
                campaign_name: group.campaign_name.clone(),
                message_kind: MessageKind::of(group.campaign_id),
                counts: Counts::default(),
            })
            .counts
            .add(status, group.count, group.sent);
    }
    Ok(rows.into_values().collect())
}
