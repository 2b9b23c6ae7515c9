//! What a sender reads back about a message: every delivery's status.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use utoipa::ToSchema;

use super::get;
use crate::channel::ChannelKind;
use crate::deliveries::shared_entries;
use crate::entities::{delivery, subscriber};
use crate::error::{Error, Result};

/// One delivery of a message, as its sender sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryReport {
    /// The subscriber's external id; empty once the subscriber was deleted.
    pub recipient: String,
    pub channel: String,
    /// queued | filtered | deferred | sending | delivered | failed | dead | expired | cancelled
    pub status: String,
    pub reason: Option<String>,
    pub rule_id: Option<i64>,
    pub attempts: i32,
    /// When the next attempt may start (a deferral or a retry's backoff).
    pub not_before: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageReport {
    pub id: i64,
    pub category: String,
    pub channels: Vec<ChannelKind>,
    pub created_at: DateTime<Utc>,
    pub deliveries: Vec<DeliveryReport>,
}

/// The message with every delivery's status. Only its sender may read it.
pub async fn report(conn: &impl ConnectionTrait, sender: &str, id: i64) -> Result<MessageReport> {
    let message = get(conn, id).await?;
    if message.sender != sender {
        return Err(Error::NotFound { entity: "message" });
    }
    let rows: Vec<(delivery::Model, Option<subscriber::Model>)> = delivery::Entity::find()
        .filter(delivery::Column::MessageId.eq(id))
        .order_by_asc(delivery::Column::Id)
        .find_also_related(subscriber::Entity)
        .all(conn)
        .await?;
    // A shared inbox item's recipients are in the log without a row.
    let shared = shared_entries::of_message(conn, id).await?;
    let shared = shared.into_iter().map(|entry| DeliveryReport {
        recipient: entry.recipient,
        channel: entry.channel,
        status: entry.status,
        reason: entry.reason,
        rule_id: entry.rule_id,
        attempts: entry.attempts,
        not_before: entry.not_before,
        updated_at: entry.updated_at,
    });
    Ok(MessageReport {
        id: message.id,
        category: message.category,
        channels: serde_json::from_value(message.channels).unwrap_or_default(),
        created_at: message.created_at,
        deliveries: rows
            .into_iter()
            .map(|(d, s)| DeliveryReport {
                recipient: s.map(|s| s.external_id).unwrap_or_default(),
                channel: d.channel,
                status: d.status,
                reason: d.reason,
                rule_id: d.rule_id,
                attempts: d.attempts,
                not_before: d.not_before,
                updated_at: d.updated_at,
            })
            .chain(shared)
            .collect(),
    })
}
