//! Server-side login sessions. The cookie carries a random token; the table keeps only
//! its digest, so a leaked database does not leak live sessions.

use chrono::{Duration, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::entities::{operator, session};
use crate::error::Result;
use crate::secrets;

/// A session just opened: `token` goes into the cookie and is never stored.
pub struct OpenedSession {
    pub token: String,
    pub csrf_token: String,
    pub expires_at: chrono::DateTime<Utc>,
}

pub async fn open(
    conn: &impl ConnectionTrait,
    operator_id: i64,
    ttl: std::time::Duration,
) -> Result<OpenedSession> {
    let token = secrets::random_token(32);
    let csrf_token = secrets::random_token(32);
    let now = Utc::now();
    let expires_at = now + Duration::from_std(ttl).unwrap_or(Duration::hours(12));
    session::Entity::insert(session::ActiveModel {
        id: Set(secrets::digest(&token)),
        operator_id: Set(operator_id),
        csrf_token: Set(csrf_token.clone()),
        created_at: Set(now),
        expires_at: Set(expires_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(OpenedSession {
        token,
        csrf_token,
        expires_at,
    })
}

/// The live session for a cookie token and its operator, unless expired or disabled.
pub async fn find_active(
    conn: &impl ConnectionTrait,
    token: &str,
) -> Result<Option<(session::Model, operator::Model)>> {
    let Some(found) = session::Entity::find_by_id(secrets::digest(token))
        .filter(session::Column::ExpiresAt.gt(Utc::now()))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let operator = operator::Entity::find_by_id(found.operator_id)
        .filter(operator::Column::Disabled.eq(false))
        .one(conn)
        .await?;
    Ok(operator.map(|op| (found, op)))
}

pub async fn close(conn: &impl ConnectionTrait, session_id: &str) -> Result<()> {
    session::Entity::delete_by_id(session_id.to_owned())
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn delete_for_operator(conn: &impl ConnectionTrait, operator_id: i64) -> Result<u64> {
    Ok(session::Entity::delete_many()
        .filter(session::Column::OperatorId.eq(operator_id))
        .exec(conn)
        .await?
        .rows_affected)
}

/// Deletes sessions past their expiry; the housekeeping job calls this.
pub async fn purge_expired(conn: &impl ConnectionTrait) -> Result<u64> {
    Ok(session::Entity::delete_many()
        .filter(session::Column::ExpiresAt.lte(Utc::now()))
        .exec(conn)
        .await?
        .rows_affected)
}
