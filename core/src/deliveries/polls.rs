//! The statements the worker runs every round whatever the load: whether deferred
//! deliveries are due, the expiry of unfinished deliveries (the same update a
//! campaign's cancel runs), and the backlog for the metrics. Each reads through an
//! index, never the whole delivery log or every message; [`statements`] hands them to
//! the plan tests.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, QueryTrait, Select, Statement,
    UpdateMany,
};

use super::status::{DeliveryStatus, dead_letter, unfinished};
use crate::entities::{delivery, message};

/// Deferred deliveries whose time has come.
pub(crate) fn deferred_due(now: DateTime<Utc>) -> Select<delivery::Entity> {
    delivery::Entity::find()
        .filter(unfinished())
        .filter(delivery::Column::Status.eq(DeliveryStatus::Deferred.as_str()))
        .filter(delivery::Column::NotBefore.lte(now))
}

/// Ends the unfinished deliveries of messages that expired by `now`.
pub(crate) fn expire(now: DateTime<Utc>) -> UpdateMany<delivery::Entity> {
    let expired = message::Column::ExpiresAt.lte(now);
    end_unstarted(expired, DeliveryStatus::Expired, now)
}

/// Ends a cancelled campaign's deliveries that have not started.
pub(crate) fn cancel(campaign_id: i64, now: DateTime<Utc>) -> UpdateMany<delivery::Entity> {
    let of_campaign = message::Column::CampaignId.eq(campaign_id);
    end_unstarted(of_campaign, DeliveryStatus::Cancelled, now)
}

/// Ends the deliveries of the messages `of_messages` selects that have not started
/// (queued or deferred) as `ending` at `now`; those being sent finish.
fn end_unstarted(
    of_messages: SimpleExpr,
    ending: DeliveryStatus,
    now: DateTime<Utc>,
) -> UpdateMany<delivery::Entity> {
    delivery::Entity::update_many()
        .col_expr(delivery::Column::Status, Expr::value(ending.as_str()))
        .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
        .filter(unfinished())
        .filter(delivery::Column::Status.is_in([
            DeliveryStatus::Queued.as_str(),
            DeliveryStatus::Deferred.as_str(),
        ]))
        .filter(
            delivery::Column::MessageId.in_subquery(
                Query::select()
                    .column(message::Column::Id)
                    .from(message::Entity)
                    .and_where(of_messages)
                    .to_owned(),
            ),
        )
}

/// Unfinished deliveries counted by status (the rows of `status, n`).
pub(crate) fn unfinished_by_status() -> Select<delivery::Entity> {
    delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Status)
        .column_as(delivery::Column::Id.count(), "n")
        .filter(unfinished())
        .group_by(delivery::Column::Status)
}

/// Queued deliveries that wait for a later time.
pub(crate) fn waiting(now: DateTime<Utc>) -> Select<delivery::Entity> {
    delivery::Entity::find()
        .filter(unfinished())
        .filter(delivery::Column::Status.eq(DeliveryStatus::Queued.as_str()))
        .filter(delivery::Column::NotBefore.gt(now))
}

/// Dead letters (their own partial index).
pub(crate) fn dead() -> Select<delivery::Entity> {
    delivery::Entity::find().filter(dead_letter())
}

/// Every polling statement as `backend` runs it, named, for plan tests.
pub fn statements(backend: DbBackend, now: DateTime<Utc>) -> Vec<(&'static str, Statement)> {
    vec![
        ("deferred_due", deferred_due(now).build(backend)),
        ("expire", expire(now).build(backend)),
        ("cancel", cancel(1, now).build(backend)),
        (
            "unfinished_by_status",
            unfinished_by_status().build(backend),
        ),
        ("waiting", waiting(now).build(backend)),
        ("dead", dead().build(backend)),
    ]
}
