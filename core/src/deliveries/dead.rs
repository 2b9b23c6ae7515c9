//! Dead letters: deliveries whose retries ran out. Operators list them by campaign,
//! channel or error and re-drive them, one by one or all that match; a re-driven
//! delivery is queued afresh with the same idempotency key, and the re-drive is audited.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use validator::Validate;

use super::status::{DeliveryStatus, dead_letter};
use crate::audit::{self, AuditContext, Change};
use crate::channel::ChannelKind;
use crate::entities::{delivery, subscriber};
use crate::error::Result;

/// Which dead letters: every field narrows.
#[derive(Debug, Clone, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadFilter {
    pub campaign_id: Option<i64>,
    pub channel: Option<ChannelKind>,
    /// Part of the last error, e.g. `503` or `timed out`.
    #[validate(length(min = 1, max = 200))]
    pub error: Option<String>,
}

impl DeadFilter {
    fn condition(&self) -> Condition {
        let mut condition = Condition::all().add(dead_letter());
        if let Some(campaign) = self.campaign_id {
            condition = condition.add(super::log::of_campaign(campaign));
        }
        if let Some(channel) = self.channel {
            condition = condition.add(delivery::Column::Channel.eq(channel.as_str()));
        }
        if let Some(error) = &self.error {
            condition = condition.add(delivery::Column::Reason.contains(error));
        }
        condition
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeadLetter {
    pub delivery_id: i64,
    pub message_id: i64,
    /// The subscriber's external id; empty once the subscriber was deleted.
    pub recipient: String,
    pub channel: String,
    /// The last error.
    pub reason: Option<String>,
    pub attempts: i32,
    pub updated_at: DateTime<Utc>,
}

/// Dead letters matching `filter`, newest first, after the cursor `before_id`.
pub async fn list(
    conn: &impl ConnectionTrait,
    filter: &DeadFilter,
    before_id: Option<i64>,
    limit: u64,
) -> Result<Vec<DeadLetter>> {
    let mut query = delivery::Entity::find().filter(filter.condition());
    if let Some(id) = before_id {
        query = query.filter(delivery::Column::Id.lt(id));
    }
    let rows = query
        .order_by_desc(delivery::Column::Id)
        .limit(limit)
        .find_also_related(subscriber::Entity)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(d, s)| DeadLetter {
            delivery_id: d.id,
            message_id: d.message_id,
            recipient: s.map(|s| s.external_id).unwrap_or_default(),
            channel: d.channel,
            reason: d.reason,
            attempts: d.attempts,
            updated_at: d.updated_at,
        })
        .collect())
}

/// What to re-drive: the listed deliveries, or every dead letter matching a filter.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedriveIn {
    /// Delivery ids; when given, the filter is not used.
    #[validate(length(min = 1, max = 10000))]
    pub ids: Option<Vec<i64>>,
    #[serde(default)]
    #[validate(nested)]
    pub filter: DeadFilter,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Redriven {
    pub redriven: u64,
}

/// Queues the chosen dead letters again (attempts start over) in one statement, and
/// audits it. Deliveries that are not dead are left alone.
pub async fn redrive(
    db: &impl TransactionTrait,
    ctx: &AuditContext,
    input: RedriveIn,
) -> Result<Redriven> {
    input.validate()?;
    let mut condition = input.filter.condition();
    if let Some(ids) = &input.ids {
        condition = Condition::all()
            .add(dead_letter())
            .add(delivery::Column::Id.is_in(ids.iter().copied()));
    }
    let txn = crate::db::begin_write(db).await?;
    let now = Utc::now();
    let moved = delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Status,
            Expr::value(DeliveryStatus::Queued.as_str()),
        )
        .col_expr(delivery::Column::Attempts, Expr::value(0))
        .col_expr(
            delivery::Column::NotBefore,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
        .filter(condition)
        .exec(&txn)
        .await?
        .rows_affected;
    audit::record(
        &txn,
        ctx,
        Change {
            action: "delivery.redrive",
            target_kind: "delivery",
            target_id: None,
            before: None,
            after: Some(json!({
                "redriven": moved,
                "ids": input.ids.as_ref().map(|ids| ids.iter().take(100).collect::<Vec<_>>()),
                "campaign_id": input.filter.campaign_id,
                "channel": input.filter.channel,
                "error": input.filter.error,
            })),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Redriven { redriven: moved })
}
