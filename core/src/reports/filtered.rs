//! Why deliveries were filtered: counts per check and rule, in the shape a campaign's
//! live counters use (`filtered_by`), over any period, campaign or channel.

use std::collections::BTreeMap;

use sea_orm::ConnectionTrait;

use super::filter::ReportFilter;
use super::group::{Key, grouped};
use crate::campaigns::progress::{FilteredBy, rule_names};
use crate::deliveries::DeliveryStatus;
use crate::error::Result;

/// Filtered deliveries matching `filter` (its status is ignored: always `filtered`),
/// per check and rule, ordered by check and then rule id.
pub async fn filtered(
    conn: &impl ConnectionTrait,
    filter: &ReportFilter,
) -> Result<Vec<FilteredBy>> {
    let filter = ReportFilter {
        status: Some(DeliveryStatus::Filtered),
        ..filter.clone()
    };
    let mut counts: BTreeMap<(String, Option<i64>), u64> = BTreeMap::new();
    for group in grouped(conn, &[Key::Filter, Key::Rule], &filter, false).await? {
        // Rows filtered before checks were recorded have none; the counters say the same.
        let check = group.filter.unwrap_or_else(|| "unknown".to_owned());
        *counts.entry((check, group.rule_id)).or_default() += group.count;
    }
    let names = rule_names(conn, counts.keys().filter_map(|(_, id)| *id).collect()).await?;
    Ok(counts
        .into_iter()
        .map(|((filter, rule_id), count)| FilteredBy {
            filter,
            rule_name: rule_id.and_then(|id| names.get(&id).cloned()),
            rule_id,
            count,
        })
        .collect())
}
