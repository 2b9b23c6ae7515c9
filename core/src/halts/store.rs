//! Stopping and releasing, audited, and the list of stops in force.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    Statement, TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::audit::{self, AuditContext, Change};
use crate::db::is_postgres;
use crate::entities::{campaign, channel_instance, halt};
use crate::error::{Error, Result};
use crate::error_code::ErrorCode;

/// What a stop covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HaltScope {
    /// Every send on every channel, transactional and campaign alike.
    All,
    /// Sends through one channel instance.
    Channel,
    /// One campaign's sends.
    Campaign,
}

impl HaltScope {
    pub fn as_str(self) -> &'static str {
        match self {
            HaltScope::All => "all",
            HaltScope::Channel => "channel",
            HaltScope::Campaign => "campaign",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [HaltScope::All, HaltScope::Channel, HaltScope::Campaign]
            .into_iter()
            .find(|scope| scope.as_str() == s)
    }
}

/// A stop to put in force.
#[derive(Debug, Clone, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct HaltIn {
    pub scope: HaltScope,
    /// The channel instance to stop, by name (scope `channel` only).
    pub channel: Option<String>,
    /// The campaign to stop (scope `campaign` only).
    pub campaign_id: Option<i64>,
    /// Why: shown to other operators and kept in the audit log.
    #[validate(length(min = 1, max = 500, message = "say why, in 1 to 500 characters"))]
    pub reason: String,
}

/// A stop in force.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HaltOut {
    pub id: i64,
    pub scope: HaltScope,
    /// The stopped channel instance's name (scope `channel`; absent once it was deleted).
    pub channel: Option<String>,
    /// The stopped campaign (scope `campaign`).
    pub campaign_id: Option<i64>,
    /// Its name (absent once it was deleted).
    pub campaign_name: Option<String>,
    pub reason: String,
    pub halted_by: String,
    pub halted_at: DateTime<Utc>,
}

/// The stops in force, oldest first.
pub async fn list(conn: &impl ConnectionTrait) -> Result<Vec<HaltOut>> {
    let halts = halt::Entity::find()
        .order_by_asc(halt::Column::Id)
        .all(conn)
        .await?;
    let mut out = Vec::with_capacity(halts.len());
    for model in halts {
        out.push(describe(conn, model).await?);
    }
    Ok(out)
}

/// Puts a stop in force, or finds the same stop already in force (`false`).
pub async fn halt<C>(db: &C, ctx: &AuditContext, input: HaltIn) -> Result<(HaltOut, bool)>
where
    C: ConnectionTrait + TransactionTrait,
{
    if input.reason.trim().is_empty() || input.validate().is_err() {
        return Err(Error::invalid("reason", "say why, in 1 to 500 characters"));
    }
    let target_id = target_of(db, &input).await?;
    match record_stop(db, ctx, &input, target_id).await {
        // Two operators pressed the same stop at once: the other's is the one in force.
        Err(Error::Conflict {
            code: ErrorCode::AlreadyExists,
            ..
        }) => match in_force(db, input.scope, target_id).await? {
            Some(model) => Ok((describe(db, model).await?, false)),
            None => Err(Error::Internal(
                "a stop pressed twice at once was released meanwhile",
            )),
        },
        recorded => recorded,
    }
}

/// The stop of `scope` and `target_id` in force, if any.
async fn in_force(
    conn: &impl ConnectionTrait,
    scope: HaltScope,
    target_id: i64,
) -> Result<Option<halt::Model>> {
    Ok(halt::Entity::find()
        .filter(halt::Column::Scope.eq(scope.as_str()))
        .filter(halt::Column::TargetId.eq(target_id))
        .one(conn)
        .await?)
}

/// Records the stop, or finds it in force (`false`); audited and announced.
async fn record_stop<C>(
    db: &C,
    ctx: &AuditContext,
    input: &HaltIn,
    target_id: i64,
) -> Result<(HaltOut, bool)>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = crate::db::begin_write(db).await?;
    if let Some(model) = in_force(&txn, input.scope, target_id).await? {
        txn.commit().await?;
        return Ok((describe(db, model).await?, false));
    }
    let model = halt::Entity::insert(halt::ActiveModel {
        scope: Set(input.scope.as_str().to_owned()),
        target_id: Set(target_id),
        reason: Set(input.reason.trim().to_owned()),
        halted_by: Set(ctx.actor.name()),
        halted_at: Set(Utc::now()),
        ..Default::default()
    })
    .exec_with_returning(&txn)
    .await?;
    let out = describe(&txn, model).await?;
    audit::record(
        &txn,
        ctx,
        Change {
            action: "sending.halt",
            target_kind: "halt",
            target_id: Some(out.id.to_string()),
            before: None,
            after: audit::snapshot(&out),
        },
    )
    .await?;
    announce(&txn).await?;
    txn.commit().await?;
    tracing::warn!(scope = out.scope.as_str(), channel = ?out.channel, campaign = ?out.campaign_id,
        reason = %out.reason, by = %out.halted_by, "sending stopped");
    Ok((out, true))
}

/// Releases stop `id`: what it held goes out.
pub async fn release<C>(db: &C, ctx: &AuditContext, id: i64) -> Result<HaltOut>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = crate::db::begin_write(db).await?;
    let model = halt::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(Error::NotFound { entity: "stop" })?;
    let out = describe(&txn, model).await?;
    halt::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        ctx,
        Change {
            action: "sending.release",
            target_kind: "halt",
            target_id: Some(id.to_string()),
            before: audit::snapshot(&out),
            after: None,
        },
    )
    .await?;
    announce(&txn).await?;
    txn.commit().await?;
    tracing::warn!(scope = out.scope.as_str(), channel = ?out.channel, campaign = ?out.campaign_id,
        by = %ctx.actor.name(), "sending released");
    Ok(out)
}

/// The id of what `input` stops (0 for everything), checking it exists.
async fn target_of(conn: &impl ConnectionTrait, input: &HaltIn) -> Result<i64> {
    match input.scope {
        HaltScope::All => {
            if input.channel.is_some() {
                return Err(Error::invalid("channel", "scope `all` names no channel"));
            }
            if input.campaign_id.is_some() {
                return Err(Error::invalid(
                    "campaign_id",
                    "scope `all` names no campaign",
                ));
            }
            Ok(0)
        }
        HaltScope::Channel => {
            if input.campaign_id.is_some() {
                return Err(Error::invalid(
                    "campaign_id",
                    "scope `channel` names no campaign",
                ));
            }
            let name = input
                .channel
                .as_deref()
                .ok_or_else(|| Error::invalid("channel", "name the channel instance to stop"))?;
            let instance = channel_instance::Entity::find()
                .filter(channel_instance::Column::Name.eq(name))
                .one(conn)
                .await?
                .ok_or_else(|| Error::invalid("channel", "no channel instance has this name"))?;
            Ok(instance.id)
        }
        HaltScope::Campaign => {
            if input.channel.is_some() {
                return Err(Error::invalid(
                    "channel",
                    "scope `campaign` names no channel",
                ));
            }
            let id = input
                .campaign_id
                .ok_or_else(|| Error::invalid("campaign_id", "name the campaign to stop"))?;
            campaign::Entity::find_by_id(id)
                .one(conn)
                .await?
                .ok_or_else(|| Error::invalid("campaign_id", "no campaign has this id"))?;
            Ok(id)
        }
    }
}

/// A stop as the API shows it, with its target's name.
async fn describe(conn: &impl ConnectionTrait, model: halt::Model) -> Result<HaltOut> {
    let scope = HaltScope::parse(&model.scope).unwrap_or(HaltScope::All);
    let (mut channel, mut campaign_id, mut campaign_name) = (None, None, None);
    match scope {
        HaltScope::All => {}
        HaltScope::Channel => {
            channel = channel_instance::Entity::find_by_id(model.target_id)
                .one(conn)
                .await?
                .map(|instance| instance.name);
        }
        HaltScope::Campaign => {
            campaign_id = Some(model.target_id);
            campaign_name = campaign::Entity::find_by_id(model.target_id)
                .one(conn)
                .await?
                .map(|campaign| campaign.name);
        }
    }
    Ok(HaltOut {
        id: model.id,
        scope,
        channel,
        campaign_id,
        campaign_name,
        reason: model.reason,
        halted_by: model.halted_by,
        halted_at: model.halted_at,
    })
}

/// Tells every worker on Postgres, when the transaction commits.
async fn announce(txn: &impl ConnectionTrait) -> Result<()> {
    if is_postgres(txn) {
        txn.execute_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "SELECT pg_notify($1, '')",
            [super::CHANNEL.into()],
        ))
        .await?;
    }
    Ok(())
}
