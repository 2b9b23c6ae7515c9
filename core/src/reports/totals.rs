//! The counts of deliveries the retention period pruned (`delivery_totals`, written by
//! [`crate::retention`]), grouped like the log so that every report adds them in.

use std::collections::HashMap;

use chrono::{Days, NaiveDate};
use sea_orm::ExprTrait;
use sea_orm::sea_query::{Alias, Expr, Query, SelectStatement};

use super::filter::ReportFilter;
use super::group::{Group, Key, with_campaign_names};
use super::keys::GroupKey;

fn table() -> Alias {
    Alias::new("delivery_totals")
}

fn col(name: &str) -> Expr {
    Expr::col((table(), Alias::new(name)))
}

/// The totals' column for `key`, with the stored placeholders (0, '') read as absent.
fn column(key: Key) -> (&'static str, Expr) {
    match key {
        Key::Group(GroupKey::Campaign) => (
            "campaign_id",
            Expr::cust(r#"NULLIF("delivery_totals"."campaign_id", 0)"#),
        ),
        Key::Group(GroupKey::Channel) => ("channel", col("channel")),
        Key::Group(GroupKey::Day) => ("day", col("day")),
        Key::Group(GroupKey::Status) => ("status", col("status")),
        Key::Filter => (
            "filter",
            Expr::cust(r#"NULLIF("delivery_totals"."filter", '')"#),
        ),
        Key::Rule => (
            "rule_id",
            Expr::cust(r#"NULLIF("delivery_totals"."rule_id", 0)"#),
        ),
    }
}

/// The pruned deliveries matching `filter`, summed per combination of `keys`, with the
/// same result columns as the log's aggregate (`count` and `sent` always).
pub(super) fn select(keys: &[Key], filter: &ReportFilter) -> SelectStatement {
    let mut groups = Query::select();
    groups.from(table());
    if let Some(from) = filter.from {
        groups.and_where(col("day").gte(from));
    }
    if let Some(next) = filter.to.and_then(|to| to.checked_add_days(Days::new(1))) {
        groups.and_where(col("day").lt(next));
    }
    if let Some(campaign) = filter.campaign_id {
        groups.and_where(col("campaign_id").eq(campaign));
    }
    if let Some(channel) = filter.channel {
        groups.and_where(col("channel").eq(channel.as_str()));
    }
    if let Some(status) = filter.status {
        groups.and_where(col("status").eq(status.as_str()));
    }
    for key in keys {
        let (alias, expr) = column(*key);
        groups
            .expr_as(expr.clone(), Alias::new(alias))
            .add_group_by([expr]);
    }
    // Postgres sums bigints as numeric; the log's aggregate answers bigints.
    groups
        .expr_as(
            Expr::cust(r#"CAST(SUM("delivery_totals"."count") AS BIGINT)"#),
            Alias::new("count"),
        )
        .expr_as(
            Expr::cust(r#"CAST(SUM("delivery_totals"."sent") AS BIGINT)"#),
            Alias::new("sent"),
        );
    if keys.contains(&Key::Group(GroupKey::Campaign)) {
        with_campaign_names(groups)
    } else {
        groups
    }
}

type GroupId = (
    Option<i64>,
    Option<String>,
    Option<NaiveDate>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

/// Adds up groups with the same keys (one from the log, one from the totals).
pub(super) fn merge(groups: Vec<Group>) -> Vec<Group> {
    let mut merged: HashMap<GroupId, Group> = HashMap::with_capacity(groups.len());
    for group in groups {
        let id = (
            group.campaign_id,
            group.channel.clone(),
            group.day,
            group.status.clone(),
            group.filter.clone(),
            group.rule_id,
        );
        match merged.get_mut(&id) {
            Some(existing) => {
                existing.count += group.count;
                existing.sent += group.sent;
                if existing.campaign_name.is_none() {
                    existing.campaign_name = group.campaign_name;
                }
            }
            None => {
                merged.insert(id, group);
            }
        }
    }
    merged.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(channel: &str, count: u64, sent: u64) -> Group {
        Group {
            channel: Some(channel.to_owned()),
            count,
            sent,
            ..Default::default()
        }
    }

    #[test]
    fn groups_with_the_same_keys_add_up() {
        let mut merged = merge(vec![
            group("email", 3, 2),
            group("inbox", 1, 1),
            group("email", 10, 7),
        ]);
        merged.sort_by(|a, b| a.channel.cmp(&b.channel));
        let seen: Vec<(Option<&str>, u64, u64)> = merged
            .iter()
            .map(|g| (g.channel.as_deref(), g.count, g.sent))
            .collect();
        assert_eq!(seen, [(Some("email"), 13, 9), (Some("inbox"), 1, 1)]);
    }
}
