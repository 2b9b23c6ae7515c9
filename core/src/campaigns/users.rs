//! Which campaigns depend on something an operator wants to delete, named so that the
//! refusal (409 `in_use`) tells them where to look.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::lifecycle::Status;
use crate::entities::campaign;
use crate::error::Result;

/// How many campaigns are named in a refusal; the rest are counted.
const NAMED: usize = 3;

/// The campaigns that use a thing: a few by name, and how many in all.
#[derive(Debug, Default)]
pub struct Users {
    pub named: Vec<String>,
    pub total: u64,
}

impl Users {
    fn of(campaigns: Vec<campaign::Model>) -> Self {
        Self {
            total: campaigns.len() as u64,
            named: campaigns
                .iter()
                .take(NAMED)
                .map(|c| format!("campaign {} ({})", c.id, c.name))
                .collect(),
        }
    }

    pub fn any(&self) -> bool {
        self.total > 0
    }

    /// Refuses (409 `in_use`, naming these campaigns) a change to `what` while any
    /// campaign uses it.
    pub fn refuse_change_to(&self, what: &str) -> Result<()> {
        if self.any() {
            return Err(crate::error::Error::in_use(what, &self.named, self.total));
        }
        Ok(())
    }
}

/// Every campaign, in any state, built on `audience_id` (its history refers to it).
pub async fn using_audience(conn: &impl ConnectionTrait, audience_id: i64) -> Result<Users> {
    let campaigns = campaign::Entity::find()
        .filter(campaign::Column::AudienceId.eq(audience_id))
        .order_by_asc(campaign::Column::Id)
        .all(conn)
        .await?;
    Ok(Users::of(campaigns))
}

/// Campaigns still to send (scheduled, running or paused) on `channel`.
pub async fn sending_on(conn: &impl ConnectionTrait, channel: &str) -> Result<Users> {
    still_to_send(conn, |c| names(&c.channels, channel)).await
}

/// Campaigns still to send that chose the channel instance named `instance`.
pub async fn choosing(conn: &impl ConnectionTrait, instance: &str) -> Result<Users> {
    still_to_send(conn, |c| {
        c.instances
            .as_ref()
            .is_some_and(|chosen| names(chosen, instance))
    })
    .await
}

/// Campaigns still to send (scheduled, running or paused) that `uses` picks. Those are
/// few at any time, so they are read whole and picked here.
async fn still_to_send(
    conn: &impl ConnectionTrait,
    uses: impl Fn(&campaign::Model) -> bool,
) -> Result<Users> {
    let active = [Status::Scheduled, Status::Running, Status::Paused].map(Status::as_str);
    let campaigns = campaign::Entity::find()
        .filter(campaign::Column::Status.is_in(active))
        .order_by_asc(campaign::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .filter(|c| uses(c))
        .collect();
    Ok(Users::of(campaigns))
}

/// Whether JSON array `list` holds the string `name`.
fn names(list: &serde_json::Value, name: &str) -> bool {
    list.as_array()
        .is_some_and(|items| items.iter().any(|item| item.as_str() == Some(name)))
}
