//! The append-only audit log: who did what to which record, with before/after.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;

use crate::entities::audit_log;
use crate::error::Result;

/// Who performed an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Operator {
        id: i64,
        username: String,
    },
    ApiKey {
        id: i64,
        name: String,
    },
    /// A subscriber acting on their own behalf (a one-click unsubscribe).
    Subscriber {
        external_id: String,
    },
    /// Herald itself (start-up bootstrap, housekeeping).
    System,
    /// A person at the command line of the server.
    Cli,
}

impl Actor {
    fn kind(&self) -> &'static str {
        match self {
            Actor::Operator { .. } => "operator",
            Actor::ApiKey { .. } => "api_key",
            Actor::Subscriber { .. } => "subscriber",
            Actor::System => "system",
            Actor::Cli => "cli",
        }
    }

    fn id(&self) -> Option<String> {
        match self {
            Actor::Operator { id, .. } | Actor::ApiKey { id, .. } => Some(id.to_string()),
            Actor::Subscriber { external_id } => Some(external_id.clone()),
            Actor::System | Actor::Cli => None,
        }
    }

    /// The name shown for the actor in the log and in histories.
    pub fn name(&self) -> String {
        match self {
            Actor::Operator { username, .. } => username.clone(),
            Actor::ApiKey { name, .. } => name.clone(),
            Actor::Subscriber { .. } => "subscriber".to_owned(),
            Actor::System => "herald".to_owned(),
            Actor::Cli => "command line".to_owned(),
        }
    }

    pub fn operator_id(&self) -> Option<i64> {
        match self {
            Actor::Operator { id, .. } => Some(*id),
            _ => None,
        }
    }
}

/// The actor of a request plus the request id, carried into every audited write.
#[derive(Debug, Clone)]
pub struct AuditContext {
    pub actor: Actor,
    pub request_id: Option<String>,
}

impl AuditContext {
    pub fn new(actor: Actor) -> Self {
        Self {
            actor,
            request_id: None,
        }
    }
}

/// One audited change. `before`/`after` are what an auditor needs to see; they never
/// hold secrets, and for subscribers only identifiers (personal data must be erasable).
pub struct Change<'a> {
    pub action: &'a str,
    pub target_kind: &'a str,
    pub target_id: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

pub async fn record(
    conn: &impl ConnectionTrait,
    ctx: &AuditContext,
    change: Change<'_>,
) -> Result<()> {
    audit_log::Entity::insert(audit_log::ActiveModel {
        occurred_at: Set(Utc::now()),
        actor_kind: Set(ctx.actor.kind().to_owned()),
        actor_id: Set(ctx.actor.id()),
        actor_name: Set(ctx.actor.name()),
        action: Set(change.action.to_owned()),
        target_kind: Set(change.target_kind.to_owned()),
        target_id: Set(change.target_id),
        before: Set(change.before),
        after: Set(change.after),
        request_id: Set(ctx.request_id.clone()),
        ..Default::default()
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Serializes a value for the `before`/`after` columns.
pub fn snapshot<T: Serialize>(value: &T) -> Option<serde_json::Value> {
    serde_json::to_value(value).ok()
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor_kind: Option<String>,
    pub actor_id: Option<String>,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Newest first. `before_id` is the cursor: the id of the last row of the previous page.
pub async fn list(
    conn: &impl ConnectionTrait,
    filter: &AuditFilter,
    before_id: Option<i64>,
    limit: u64,
) -> Result<Vec<audit_log::Model>> {
    use audit_log::Column;
    let mut query = audit_log::Entity::find();
    if let Some(action) = &filter.action {
        query = query.filter(Column::Action.eq(action.as_str()));
    }
    if let Some(kind) = &filter.actor_kind {
        query = query.filter(Column::ActorKind.eq(kind.as_str()));
    }
    if let Some(id) = &filter.actor_id {
        query = query.filter(Column::ActorId.eq(id.as_str()));
    }
    if let Some(kind) = &filter.target_kind {
        query = query.filter(Column::TargetKind.eq(kind.as_str()));
    }
    if let Some(id) = &filter.target_id {
        query = query.filter(Column::TargetId.eq(id.as_str()));
    }
    if let Some(since) = filter.since {
        query = query.filter(Column::OccurredAt.gte(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(Column::OccurredAt.lt(until));
    }
    if let Some(id) = before_id {
        query = query.filter(Column::Id.lt(id));
    }
    Ok(query
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}
