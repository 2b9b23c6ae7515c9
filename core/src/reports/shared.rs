//! The delivery log's shared entries (see [`crate::deliveries::shared`]) grouped like
//! the log, so every report adds them in: each item counts its `logged_recipients` as
//! delivered inbox deliveries of its message, on the item's UTC day, with no filter or
//! rule. One row per planned page is read, not one per recipient.

use chrono::Days;
use sea_orm::sea_query::{Alias, Expr, JoinType, Query, SelectStatement};
use sea_orm::{DbBackend, ExprTrait};

use super::filter::{ReportFilter, midnight};
use super::group::{Key, with_campaign_names};
use super::keys::GroupKey;
use crate::channel::ChannelKind;
use crate::deliveries::DeliveryStatus;
use crate::entities::{inbox_item, message};

/// The UTC day of a shared item's `created_at` as SQL text: its entries' day, as
/// [`super::group::day_of_creation_sql`] is a row's (retention's totals use it too).
pub(crate) fn day_of_item_sql(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => r#"("inbox_items"."created_at" AT TIME ZONE 'UTC')::date"#,
        _ => r#"date("inbox_items"."created_at")"#,
    }
}

/// The column for `key` and whether it is grouped by (constants are not: Postgres
/// refuses a text constant in `GROUP BY`).
fn column(backend: DbBackend, key: Key) -> (&'static str, Expr, bool) {
    match key {
        Key::Group(GroupKey::Campaign) => (
            "campaign_id",
            Expr::col((message::Entity, message::Column::CampaignId)),
            true,
        ),
        Key::Group(GroupKey::Channel) => ("channel", Expr::val(ChannelKind::Inbox.as_str()), false),
        Key::Group(GroupKey::Day) => ("day", Expr::cust(day_of_item_sql(backend)), true),
        Key::Group(GroupKey::Status) => (
            "status",
            Expr::val(DeliveryStatus::Delivered.as_str()),
            false,
        ),
        Key::Filter => ("filter", Expr::cust("CAST(NULL AS TEXT)"), false),
        Key::Rule => ("rule_id", Expr::cust("CAST(NULL AS BIGINT)"), false),
    }
}

/// The shared entries matching `filter`, summed per combination of `keys`, with the
/// same result columns as the log's aggregate (`count` and `sent` always).
pub(super) fn select(backend: DbBackend, keys: &[Key], filter: &ReportFilter) -> SelectStatement {
    let items = inbox_item::Entity;
    let mut groups = Query::select();
    groups
        .from(items)
        .join(
            JoinType::InnerJoin,
            message::Entity,
            Expr::col((message::Entity, message::Column::Id))
                .equals((items, inbox_item::Column::MessageId)),
        )
        .and_where(Expr::col((items, inbox_item::Column::LoggedRecipients)).gt(0));
    if let Some(from) = filter.from {
        groups.and_where(Expr::col((items, inbox_item::Column::CreatedAt)).gte(midnight(from)));
    }
    if let Some(next) = filter.to.and_then(|to| to.checked_add_days(Days::new(1))) {
        groups.and_where(Expr::col((items, inbox_item::Column::CreatedAt)).lt(midnight(next)));
    }
    if let Some(campaign) = filter.campaign_id {
        groups.and_where(Expr::col((message::Entity, message::Column::CampaignId)).eq(campaign));
    }
    let other_channel = filter.channel.is_some_and(|c| c != ChannelKind::Inbox);
    let other_status = filter
        .status
        .is_some_and(|s| s != DeliveryStatus::Delivered);
    if other_channel || other_status {
        groups.and_where(Expr::val(false));
    }
    for key in keys {
        let (alias, expr, grouped) = column(backend, *key);
        groups.expr_as(expr.clone(), Alias::new(alias));
        if grouped {
            groups.add_group_by([expr]);
        }
    }
    // Postgres sums bigints as numeric; the log's aggregate answers bigints.
    let sum = r#"CAST(SUM("inbox_items"."logged_recipients") AS BIGINT)"#;
    groups
        .expr_as(Expr::cust(sum), Alias::new("count"))
        .expr_as(Expr::cust(sum), Alias::new("sent"))
        // Without a grouped key, no items would still make one row of NULLs.
        .and_having(Expr::cust("COUNT(*) > 0"));
    if keys.contains(&Key::Group(GroupKey::Campaign)) {
        with_campaign_names(groups)
    } else {
        groups
    }
}
