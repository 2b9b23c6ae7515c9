//! A deleted subscriber's deliveries stay in the log, anonymised: the reports and the
//! auditors keep every row (what was sent, when, with what outcome), and nothing in them
//! names the person any more.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Func, Query, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::status::DeliveryStatus;
use crate::entities::{delivery, delivery_attempt};
use crate::error::Result;

/// What an identifier in a provider's answer becomes.
pub const ERASED: &str = "[erased]";

/// Shorter identifiers are not blanked out of answers: a two-letter external id would
/// blank those letters wherever they appear.
const SHORTEST_BLANKED: usize = 6;

/// The reason a waiting delivery of a deleted subscriber ends with.
pub const SUBSCRIBER_DELETED: &str = "the subscriber was deleted";

/// Cancels `subscriber`'s deliveries still waiting (queued for a retry, deferred) and
/// blanks `identifiers` (their addresses, external id) out of the reasons and provider
/// answers their deliveries recorded. The rows keep the subscriber's numeric id, which
/// names no one once the subscriber row is gone (ids are never reused). Deliveries
/// being sent right now finish, and are recorded as the worker sees them.
pub async fn anonymise(
    conn: &impl ConnectionTrait,
    subscriber: i64,
    identifiers: &[String],
    now: DateTime<Utc>,
) -> Result<()> {
    delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Status,
            Expr::value(DeliveryStatus::Cancelled.as_str()),
        )
        .col_expr(delivery::Column::Reason, Expr::value(SUBSCRIBER_DELETED))
        .col_expr(
            delivery::Column::NotBefore,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
        .filter(delivery::Column::SubscriberId.eq(subscriber))
        .filter(delivery::Column::Status.is_in([
            DeliveryStatus::Queued.as_str(),
            DeliveryStatus::Deferred.as_str(),
        ]))
        .exec(conn)
        .await?;

    let blanked: Vec<&str> = identifiers
        .iter()
        .map(|id| id.trim())
        .filter(|id| id.chars().count() >= SHORTEST_BLANKED)
        .collect();
    if blanked.is_empty() {
        return Ok(());
    }
    delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Reason,
            blank_out(delivery::Column::Reason, &blanked),
        )
        .col_expr(
            delivery::Column::FirstAttemptDetail,
            blank_out(delivery::Column::FirstAttemptDetail, &blanked),
        )
        .filter(delivery::Column::SubscriberId.eq(subscriber))
        .exec(conn)
        .await?;
    delivery_attempt::Entity::update_many()
        .col_expr(
            delivery_attempt::Column::Detail,
            blank_out(delivery_attempt::Column::Detail, &blanked),
        )
        .filter(
            delivery_attempt::Column::DeliveryId.in_subquery(
                Query::select()
                    .column(delivery::Column::Id)
                    .from(delivery::Entity)
                    .and_where(delivery::Column::SubscriberId.eq(subscriber))
                    .to_owned(),
            ),
        )
        .exec(conn)
        .await?;
    Ok(())
}

/// `column` with every one of `identifiers` replaced by [`ERASED`] (NULL stays NULL).
fn blank_out(column: impl sea_orm::IntoSimpleExpr, identifiers: &[&str]) -> SimpleExpr {
    identifiers
        .iter()
        .fold(column.into_simple_expr(), |text, identifier| {
            Func::cust("replace")
                .arg(text)
                .arg(*identifier)
                .arg(ERASED)
                .into()
        })
}
