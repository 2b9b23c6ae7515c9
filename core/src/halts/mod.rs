//! The kill switch: an operator stops all sending, one channel instance's, or one
//! campaign's, at once, and releases it later. Nothing is lost: sends already under way
//! finish and are recorded; what has not started waits as a due delivery (or an open
//! page) and goes out once the stop is released.
//!
//! A stop is a row in `halts`. The statements that start work (claims, page hand-over,
//! a page's reservation, the API's inbox stores) read that table themselves, so a stop
//! holds for them from its commit. Workers also keep a [`HaltWatch`] of the stops, woken
//! through the bus (Postgres LISTEN/NOTIFY) and reloaded twice a second, which stops
//! the sends of batches and pages already in hand.

use sea_orm::sea_query::ExprTrait;
use sea_orm::sea_query::IntoCondition;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::entities::halt;
use crate::error::Result;

mod snapshot;
mod store;
mod watch;

pub use snapshot::Halts;
pub use store::{HaltIn, HaltOut, HaltScope, halt, list, release};
pub use watch::HaltWatch;

/// The Postgres notification channel a stop or release is announced on.
const CHANNEL: &str = "herald_halts";
/// True while all sending is stopped, for SQL.
pub(crate) const ALL_HALTED: &str = "EXISTS (SELECT 1 FROM halts WHERE scope = 'all')";
/// The messages of campaigns the kill switch stops, for SQL.
pub(crate) const HALTED_CAMPAIGN_MESSAGES: &str = "SELECT m.id FROM messages m \
     JOIN halts h ON h.scope = 'campaign' AND h.target_id = m.campaign_id";

/// Whether the kill switch stops campaign `id` (or all sending), as `conn` sees it now.
pub async fn stops_campaign(conn: &impl ConnectionTrait, id: i64) -> Result<bool> {
    let campaign = halt::Column::Scope
        .eq(HaltScope::Campaign.as_str())
        .and(halt::Column::TargetId.eq(id));
    any_halt(
        conn,
        halt::Column::Scope.eq(HaltScope::All.as_str()).or(campaign),
    )
    .await
}

/// Whether all sending is stopped, as `conn` sees it now.
pub async fn stops_everything(conn: &impl ConnectionTrait) -> Result<bool> {
    any_halt(conn, halt::Column::Scope.eq(HaltScope::All.as_str())).await
}

/// Whether a stop matching `condition` is in force.
async fn any_halt(conn: &impl ConnectionTrait, condition: impl IntoCondition) -> Result<bool> {
    Ok(halt::Entity::find()
        .filter(condition)
        .one(conn)
        .await?
        .is_some())
}
