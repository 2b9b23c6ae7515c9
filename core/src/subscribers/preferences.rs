//! Opt-outs per channel and category. `*` in either place means "every".

use chrono::Utc;
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
use crate::channel::ChannelKind;
use crate::entities::subscriber_preference::{self, Column};
use crate::error::{Error, Result};

pub const ANY: &str = "*";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preference {
    /// A channel (`inbox`, `email`, `push`, `webhook`, `mqtt`) or `*` for all.
    #[validate(length(min = 1, max = 32))]
    pub channel: String,
    /// A message category (e.g. `marketing`) or `*` for all.
    #[validate(length(min = 1, max = 64))]
    pub category: String,
    pub opted_out: bool,
}

#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesIn {
    #[validate(length(max = 200), nested)]
    pub preferences: Vec<Preference>,
}

impl PreferencesIn {
    fn check(&self) -> Result<()> {
        self.validate()?;
        let mut seen = std::collections::HashSet::new();
        for (index, preference) in self.preferences.iter().enumerate() {
            if preference.channel != ANY && ChannelKind::parse(&preference.channel).is_none() {
                return Err(Error::invalid(
                    format!("preferences[{index}].channel"),
                    format!("unknown channel `{}`", preference.channel),
                ));
            }
            if !seen.insert((&preference.channel, &preference.category)) {
                return Err(Error::invalid(
                    format!("preferences[{index}]"),
                    "the same channel and category appear twice",
                ));
            }
        }
        Ok(())
    }
}

pub async fn get(conn: &impl ConnectionTrait, subscriber_id: i64) -> Result<Vec<Preference>> {
    Ok(subscriber_preference::Entity::find()
        .filter(Column::SubscriberId.eq(subscriber_id))
        .order_by_asc(Column::Channel)
        .order_by_asc(Column::Category)
        .all(conn)
        .await?
        .into_iter()
        .map(|row| Preference {
            channel: row.channel,
            category: row.category,
            opted_out: row.opted_out,
        })
        .collect())
}

/// Replaces the whole set of preferences.
pub async fn replace(
    conn: &impl TransactionTrait,
    ctx: &AuditContext,
    external_id: &str,
    input: PreferencesIn,
) -> Result<Vec<Preference>> {
    input.check()?;
    let txn = crate::db::begin_write(conn).await?;
    let subscriber = store::find(&txn, external_id).await?;
    subscriber_preference::Entity::delete_many()
        .filter(Column::SubscriberId.eq(subscriber.id))
        .exec(&txn)
        .await?;
    let now = Utc::now();
    if !input.preferences.is_empty() {
        subscriber_preference::Entity::insert_many(input.preferences.iter().map(|p| {
            subscriber_preference::ActiveModel {
                subscriber_id: Set(subscriber.id),
                channel: Set(p.channel.clone()),
                category: Set(p.category.clone()),
                opted_out: Set(p.opted_out),
                updated_at: Set(now),
            }
        }))
        .exec_without_returning(&txn)
        .await?;
    }
    if !matches!(ctx.actor, Actor::ApiKey { .. }) {
        audit::record(
            &txn,
            ctx,
            Change {
                action: "subscriber.preferences.replace",
                target_kind: "subscriber",
                target_id: Some(external_id.to_owned()),
                before: None,
                after: Some(json!({ "preferences": input.preferences })),
            },
        )
        .await?;
    }
    let stored = get(&txn, subscriber.id).await?;
    txn.commit().await?;
    Ok(stored)
}
