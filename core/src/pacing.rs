//! Published pacing: each worker writes the lanes it paces (see the worker's `pacing`
//! module) every heartbeat; the API lists the recent ones.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter,
    QueryOrder, TransactionSession, TransactionTrait,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::bulk::insert_all;
use crate::entities::pacing_lane;
use crate::error::Result;

/// Lanes not published for this long are gone (their worker stopped).
const FORGOTTEN_AFTER: Duration = Duration::minutes(2);

/// A lane's pace: how fast one worker sends through an instance to a host.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LanePace {
    /// The channel instance.
    pub instance: String,
    /// The receiving host (the email domain for email; empty for a push provider or a
    /// broker, which are one host).
    pub host: String,
    /// Sends per second; absent while unpaced.
    pub rate_per_sec: Option<f64>,
    /// The receiver's last push-back (429, SMTP 421, `Retry-After`, a timeout).
    pub throttled_at: Option<DateTime<Utc>>,
}

/// A lane as the API shows it: whose pace it is and when it was published.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PublishedPace {
    #[serde(flatten)]
    pub lane: LanePace,
    /// The worker pacing it (each paces its own sends).
    pub worker: String,
    pub updated_at: DateTime<Utc>,
}

/// Replaces `worker`'s published lanes with `lanes`, and forgets lanes of workers that
/// stopped publishing.
pub async fn publish<C>(
    db: &C,
    worker: &str,
    lanes: Vec<LanePace>,
    now: DateTime<Utc>,
) -> Result<()>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = crate::db::begin_write(db).await?;
    pacing_lane::Entity::delete_many()
        .filter(
            pacing_lane::Column::Worker
                .eq(worker)
                .or(pacing_lane::Column::UpdatedAt.lt(now - FORGOTTEN_AFTER)),
        )
        .exec(&txn)
        .await?;
    let rows = lanes
        .into_iter()
        .map(|lane| pacing_lane::ActiveModel {
            worker: Set(worker.to_owned()),
            instance: Set(lane.instance),
            host: Set(lane.host),
            rate_per_sec: Set(lane.rate_per_sec),
            throttled_at: Set(lane.throttled_at),
            updated_at: Set(now),
        })
        .collect();
    insert_all(&txn, rows, &[]).await?;
    txn.commit().await?;
    Ok(())
}

/// The lanes published lately, by instance and host.
pub async fn list(conn: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Vec<PublishedPace>> {
    Ok(pacing_lane::Entity::find()
        .filter(pacing_lane::Column::UpdatedAt.gte(now - FORGOTTEN_AFTER))
        .order_by_asc(pacing_lane::Column::Instance)
        .order_by_asc(pacing_lane::Column::Host)
        .order_by_asc(pacing_lane::Column::Worker)
        .all(conn)
        .await?
        .into_iter()
        .map(|row| PublishedPace {
            lane: LanePace {
                instance: row.instance,
                host: row.host,
                rate_per_sec: row.rate_per_sec,
                throttled_at: row.throttled_at,
            },
            worker: row.worker,
            updated_at: row.updated_at,
        })
        .collect())
}
