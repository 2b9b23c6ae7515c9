//! Server-side login sessions. The cookie carries a random token; the table keeps only
//! its digest, so a leaked database does not leak live sessions.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
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
    let expires_at = Duration::from_std(ttl)
        .ok()
        .and_then(|ttl| now.checked_add_signed(ttl))
        .unwrap_or(now + Duration::hours(12));
    session::Entity::insert(session::ActiveModel {
        id: Set(secrets::digest(&token)),
        operator_id: Set(operator_id),
        csrf_token: Set(csrf_token.clone()),
        created_at: Set(now),
        expires_at: Set(expires_at),
        last_seen_at: Set(now),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(OpenedSession {
        token,
        csrf_token,
        expires_at,
    })
}

/// How stale `last_seen_at` may be before a request moves it: one write a minute per
/// session at most, not one per request.
const LAST_SEEN_PRECISION_SECS: i64 = 60;

/// The live session for a cookie token and its operator, unless it is past its
/// absolute expiry, unused for longer than `idle_timeout`, or its operator disabled.
/// Use moves `last_seen_at` forward.
pub async fn find_active(
    conn: &impl ConnectionTrait,
    token: &str,
    idle_timeout: std::time::Duration,
) -> Result<Option<(session::Model, operator::Model)>> {
    let now = Utc::now();
    let idle = Duration::from_std(idle_timeout).unwrap_or(Duration::MAX);
    let Some(found) = session::Entity::find_by_id(secrets::digest(token))
        .filter(session::Column::ExpiresAt.gt(now))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    if found
        .last_seen_at
        .checked_add_signed(idle)
        .is_some_and(|deadline| deadline <= now)
    {
        close(conn, &found.id).await?;
        return Ok(None);
    }
    let operator = operator::Entity::find_by_id(found.operator_id)
        .filter(operator::Column::Disabled.eq(false))
        .one(conn)
        .await?;
    if now - found.last_seen_at >= Duration::seconds(LAST_SEEN_PRECISION_SECS) {
        session::Entity::update_many()
            .col_expr(session::Column::LastSeenAt, Expr::value(now))
            .filter(session::Column::Id.eq(found.id.clone()))
            .exec(conn)
            .await?;
    }
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
