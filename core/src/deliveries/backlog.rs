//! How much delivery work waits, for the worker's metrics: read set-based from the
//! partial indexes over unfinished deliveries and dead letters, never row by row.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, PaginatorTrait};

use super::polls;
use super::status::DeliveryStatus;
use crate::error::Result;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Queued and due now.
    pub due: u64,
    /// Queued for later: a retry's backoff, a pacing slot, a local send time.
    pub waiting: u64,
    /// Held for quiet hours, decided again when they end.
    pub deferred: u64,
    /// Claimed by a worker and being sent.
    pub sending: u64,
    /// Out of retries, waiting to be re-driven.
    pub dead: u64,
}

pub async fn backlog(conn: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Backlog> {
    let by_status: Vec<(String, i64)> =
        polls::unfinished_by_status().into_tuple().all(conn).await?;
    let count = |status: DeliveryStatus| {
        by_status
            .iter()
            .find(|(s, _)| s == status.as_str())
            .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0))
    };
    let waiting = polls::waiting(now).count(conn).await?;
    let dead = polls::dead().count(conn).await?;
    Ok(Backlog {
        due: count(DeliveryStatus::Queued).saturating_sub(waiting),
        waiting,
        deferred: count(DeliveryStatus::Deferred),
        sending: count(DeliveryStatus::Sending),
        dead,
    })
}
