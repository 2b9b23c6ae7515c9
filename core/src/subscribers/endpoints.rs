//! Device-like addresses of a subscriber: push tokens (with their provider), webhook
//! URLs and MQTT topics. Email and phone live on the profile itself.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use validator::Validate;

use super::store;
use crate::audit::{self, Actor, AuditContext, Change};
use crate::entities::subscriber_endpoint::{self, Column};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointChannel {
    Push,
    Webhook,
    Mqtt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PushProvider {
    Fcm,
    Apns,
    Jpush,
}

impl EndpointChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointChannel::Push => "push",
            EndpointChannel::Webhook => "webhook",
            EndpointChannel::Mqtt => "mqtt",
        }
    }
}

impl PushProvider {
    /// The plugin that sends to this provider's devices.
    pub fn plugin(self) -> herald_channels::PluginKind {
        use herald_channels::PluginKind;
        match self {
            PushProvider::Fcm => PluginKind::Fcm,
            PushProvider::Apns => PluginKind::Apns,
            PushProvider::Jpush => PluginKind::Jpush,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.plugin().as_str()
    }
}

#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointIn {
    pub channel: EndpointChannel,
    /// Required for `push`: which provider the device token belongs to.
    pub provider: Option<PushProvider>,
    /// The device token, webhook URL or MQTT topic.
    #[validate(length(min = 1, max = 4096))]
    pub address: String,
}

impl EndpointIn {
    fn check(&self) -> Result<()> {
        self.validate()?;
        match self.channel {
            EndpointChannel::Push if self.provider.is_none() => {
                Err(Error::invalid("provider", "is required for push endpoints"))
            }
            EndpointChannel::Push => Ok(()),
            _ if self.provider.is_some() => {
                Err(Error::invalid("provider", "is only for push endpoints"))
            }
            EndpointChannel::Webhook => check_webhook_url(&self.address),
            EndpointChannel::Mqtt => check_mqtt_topic(&self.address),
        }
    }
}

fn check_webhook_url(address: &str) -> Result<()> {
    let url = url::Url::parse(address).map_err(|e| Error::invalid("address", e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(Error::invalid("address", "must be an http or https URL"));
    }
    Ok(())
}

fn check_mqtt_topic(topic: &str) -> Result<()> {
    // A publish topic may not hold wildcards or NUL (MQTT 3.1.1 §4.7).
    if topic.contains(['+', '#', '\0']) {
        return Err(Error::invalid(
            "address",
            "an MQTT topic to publish to may not contain + # or NUL",
        ));
    }
    Ok(())
}

pub async fn list(
    conn: &impl ConnectionTrait,
    subscriber_id: i64,
) -> Result<Vec<subscriber_endpoint::Model>> {
    Ok(subscriber_endpoint::Entity::find()
        .filter(Column::SubscriberId.eq(subscriber_id))
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}

/// Adds an endpoint, or re-enables and refreshes the same (channel, address).
pub async fn add(
    conn: &impl TransactionTrait,
    ctx: &AuditContext,
    external_id: &str,
    input: EndpointIn,
) -> Result<subscriber_endpoint::Model> {
    input.check()?;
    let txn = crate::db::begin_write(conn).await?;
    let subscriber = store::find(&txn, external_id).await?;
    let now = Utc::now();
    subscriber_endpoint::Entity::insert(subscriber_endpoint::ActiveModel {
        subscriber_id: Set(subscriber.id),
        channel: Set(input.channel.as_str().to_owned()),
        provider: Set(input.provider.map(|p| p.as_str().to_owned())),
        address: Set(input.address.clone()),
        enabled: Set(true),
        disabled_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([Column::SubscriberId, Column::Channel, Column::Address])
            .update_columns([
                Column::Provider,
                Column::Enabled,
                Column::DisabledReason,
                Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    let stored = subscriber_endpoint::Entity::find()
        .filter(Column::SubscriberId.eq(subscriber.id))
        .filter(Column::Channel.eq(input.channel.as_str()))
        .filter(Column::Address.eq(input.address.as_str()))
        .one(&txn)
        .await?
        .ok_or(Error::NotFound { entity: "endpoint" })?;
    if !matches!(ctx.actor, Actor::ApiKey { .. }) {
        audit::record(
            &txn,
            ctx,
            Change {
                action: "subscriber.endpoint.add",
                target_kind: "subscriber",
                target_id: Some(external_id.to_owned()),
                before: None,
                after: Some(json!({ "endpoint_id": stored.id, "channel": stored.channel })),
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(stored)
}

pub async fn remove(
    conn: &impl TransactionTrait,
    ctx: &AuditContext,
    external_id: &str,
    endpoint_id: i64,
) -> Result<()> {
    let txn = crate::db::begin_write(conn).await?;
    let subscriber = store::find(&txn, external_id).await?;
    let removed = subscriber_endpoint::Entity::delete_many()
        .filter(Column::Id.eq(endpoint_id))
        .filter(Column::SubscriberId.eq(subscriber.id))
        .exec(&txn)
        .await?
        .rows_affected;
    if removed == 0 {
        return Err(Error::NotFound { entity: "endpoint" });
    }
    if !matches!(ctx.actor, Actor::ApiKey { .. }) {
        audit::record(
            &txn,
            ctx,
            Change {
                action: "subscriber.endpoint.remove",
                target_kind: "subscriber",
                target_id: Some(external_id.to_owned()),
                before: Some(json!({ "endpoint_id": endpoint_id })),
                after: None,
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Disables endpoints a provider reported gone for good (an unregistered device token,
/// a webhook answering 410), so no later message is planned to them. One statement per
/// distinct reason. Returns how many were still enabled.
pub async fn disable_dead(conn: &impl ConnectionTrait, dead: &[(i64, String)]) -> Result<u64> {
    let mut by_reason: std::collections::BTreeMap<&str, Vec<i64>> = Default::default();
    for (id, reason) in dead {
        by_reason.entry(reason).or_default().push(*id);
    }
    let mut disabled = 0;
    for (reason, ids) in by_reason {
        disabled += subscriber_endpoint::Entity::update_many()
            .col_expr(Column::Enabled, sea_orm::sea_query::Expr::value(false))
            .col_expr(
                Column::DisabledReason,
                sea_orm::sea_query::Expr::value(reason),
            )
            .col_expr(
                Column::UpdatedAt,
                sea_orm::sea_query::Expr::value(Utc::now()),
            )
            .filter(Column::Id.is_in(ids))
            .filter(Column::Enabled.eq(true))
            .exec(conn)
            .await?
            .rows_affected;
    }
    Ok(disabled)
}
