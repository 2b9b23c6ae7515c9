//! The one aggregate every report is made of: deliveries matching a filter, counted per
//! combination of the chosen keys in a single `GROUP BY` (never a query per group).

use chrono::NaiveDate;
use sea_orm::sea_query::{Alias, Asterisk, Expr, Func, JoinType, Query, SelectStatement};
use sea_orm::{ConnectionTrait, DbBackend, ExprTrait, QueryResult};

use super::filter::ReportFilter;
use super::keys::GroupKey;
use super::totals;
use crate::entities::{campaign, delivery, message};
use crate::error::Result;

/// A grouping column of the aggregate: the public keys, and the filter check and rule
/// the filtered breakdown adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    Group(GroupKey),
    Filter,
    Rule,
}

/// One group as read back; fields of keys not grouped by stay `None`.
#[derive(Debug, Default)]
pub(super) struct Group {
    pub campaign_id: Option<i64>,
    pub campaign_name: Option<String>,
    pub channel: Option<String>,
    pub day: Option<NaiveDate>,
    pub status: Option<String>,
    pub filter: Option<String>,
    pub rule_id: Option<i64>,
    pub count: u64,
    /// Deliveries handed to a channel at least once (asked for with `with_sent`).
    pub sent: u64,
}

/// The UTC calendar day of `created_at`. On Postgres a `date`: grouping by it is several
/// times cheaper than by formatted text (measured over 1M rows), and it is the expression
/// the extended statistics of migration `m20261122_000007_report_statistics` cover, so
/// the planner knows how many groups to expect: keep the two identical.
fn day_of_creation(backend: DbBackend) -> Expr {
    Expr::cust(day_of_creation_sql(backend))
}

/// [`day_of_creation`] as SQL text, for statements written out (retention's totals).
pub(crate) fn day_of_creation_sql(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => r#"("deliveries"."created_at" AT TIME ZONE 'UTC')::date"#,
        // Stored as RFC 3339 text; `date()` reads the offset and answers in UTC.
        _ => r#"date("deliveries"."created_at")"#,
    }
}

/// The grouping column of `key` and its name in the result.
fn column(backend: DbBackend, key: Key) -> (&'static str, Expr) {
    match key {
        Key::Group(GroupKey::Campaign) => (
            "campaign_id",
            Expr::col((message::Entity, message::Column::CampaignId)),
        ),
        Key::Group(GroupKey::Channel) => (
            "channel",
            Expr::col((delivery::Entity, delivery::Column::Channel)),
        ),
        Key::Group(GroupKey::Day) => ("day", day_of_creation(backend)),
        Key::Group(GroupKey::Status) => (
            "status",
            Expr::col((delivery::Entity, delivery::Column::Status)),
        ),
        Key::Filter => (
            "filter",
            Expr::col((delivery::Entity, delivery::Column::Filter)),
        ),
        Key::Rule => (
            "rule_id",
            Expr::col((delivery::Entity, delivery::Column::RuleId)),
        ),
    }
}

/// Grouped by campaign, deliveries meet their message's campaign id through one hash
/// join; campaign names are joined to the few aggregated rows afterwards, not to every
/// delivery (a third of the time of the 4-key report over 1M rows).
fn select(
    backend: DbBackend,
    keys: &[Key],
    filter: &ReportFilter,
    with_sent: bool,
) -> SelectStatement {
    let by_campaign = keys.contains(&Key::Group(GroupKey::Campaign));
    let mut groups = Query::select();
    groups.from(delivery::Entity).cond_where(filter.condition());
    if by_campaign {
        groups.join(
            JoinType::InnerJoin,
            message::Entity,
            Expr::col((message::Entity, message::Column::Id))
                .equals((delivery::Entity, delivery::Column::MessageId)),
        );
    }
    for key in keys {
        let (alias, expr) = column(backend, *key);
        groups
            .expr_as(expr.clone(), Alias::new(alias))
            .add_group_by([expr]);
    }
    groups.expr_as(Func::count(Expr::col(Asterisk)), Alias::new("count"));
    if with_sent {
        let sent = Expr::case(
            Expr::col((delivery::Entity, delivery::Column::Attempts)).gt(0),
            1,
        )
        .finally(0);
        groups.expr_as(Func::sum(sent), Alias::new("sent"));
    }
    if !by_campaign {
        return groups;
    }
    with_campaign_names(groups)
}

/// `groups` (with a `campaign_id` column) with each campaign's name beside it.
pub(super) fn with_campaign_names(groups: SelectStatement) -> SelectStatement {
    let g = Alias::new("g");
    Query::select()
        .column((g.clone(), Asterisk))
        .expr_as(
            Expr::col((campaign::Entity, campaign::Column::Name)),
            Alias::new("campaign_name"),
        )
        .from_subquery(groups, g.clone())
        .join(
            JoinType::LeftJoin,
            campaign::Entity,
            Expr::col((campaign::Entity, campaign::Column::Id))
                .equals((g, Alias::new("campaign_id"))),
        )
        .to_owned()
}

fn read(row: &QueryResult, keys: &[Key], with_sent: bool) -> Result<Group> {
    let mut group = Group {
        count: row.try_get::<i64>("", "count")? as u64,
        ..Default::default()
    };
    if with_sent {
        group.sent = row.try_get::<Option<i64>>("", "sent")?.unwrap_or(0) as u64;
    }
    for key in keys {
        match key {
            Key::Group(GroupKey::Campaign) => {
                group.campaign_id = row.try_get("", "campaign_id")?;
                group.campaign_name = row.try_get("", "campaign_name")?;
            }
            Key::Group(GroupKey::Channel) => group.channel = row.try_get("", "channel")?,
            Key::Group(GroupKey::Day) => group.day = row.try_get("", "day")?,
            Key::Group(GroupKey::Status) => group.status = row.try_get("", "status")?,
            Key::Filter => group.filter = row.try_get("", "filter")?,
            Key::Rule => group.rule_id = row.try_get("", "rule_id")?,
        }
    }
    Ok(group)
}

/// Deliveries matching `filter`, counted per combination of `keys`, in no set order:
/// those in the log (rows and shared entries) and those the retention period pruned
/// (kept as totals).
pub(super) async fn grouped(
    conn: &impl ConnectionTrait,
    keys: &[Key],
    filter: &ReportFilter,
    with_sent: bool,
) -> Result<Vec<Group>> {
    filter.validate()?;
    let backend = conn.get_database_backend();
    let mut groups = Vec::new();
    for query in [
        select(backend, keys, filter, with_sent),
        super::shared::select(backend, keys, filter),
        totals::select(keys, filter),
    ] {
        for row in conn.query_all(&query).await? {
            groups.push(read(&row, keys, with_sent)?);
        }
    }
    Ok(totals::merge(groups))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_statement_groups_by_every_key() {
        let keys = [
            Key::Group(GroupKey::Campaign),
            Key::Group(GroupKey::Day),
            Key::Rule,
        ];
        let filter = ReportFilter {
            channel: Some(crate::channel::ChannelKind::Email),
            ..Default::default()
        };
        let sql = DbBackend::Postgres
            .build(&select(DbBackend::Postgres, &keys, &filter, true))
            .to_string();
        assert!(sql.contains("GROUP BY"), "{sql}");
        assert!(sql.contains(r#"LEFT JOIN "campaigns""#), "{sql}");
        assert!(sql.contains("AT TIME ZONE 'UTC')::date"), "{sql}");
        assert_eq!(
            sql.matches("SELECT").count(),
            2,
            "names join the groups: {sql}"
        );
    }
}
