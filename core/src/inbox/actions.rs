//! What a subscriber's client does to its inbox, over any transport: each change is
//! stored, then announced to all of the subscriber's connections (the one that asked
//! included), so every tab and device shows the same unread pair.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::bus::{Bus, Signal};
use super::store::{Ack, Unread, acknowledge, mark_all_read};
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read(i64),
    Archive(i64),
    ReadAll,
    /// The client has the item.
    Received(i64),
    /// The item was shown to the user.
    Displayed(i64),
}

/// Carries out `action` for the subscriber and announces what it changed. Returns the
/// unread pair after it.
pub async fn act<C>(
    db: &C,
    bus: &Bus,
    subscriber_id: i64,
    action: Action,
    now: DateTime<Utc>,
) -> Result<Unread>
where
    C: ConnectionTrait + TransactionTrait,
{
    let (ids, unread) = match action {
        Action::Read(id) => (
            vec![id],
            acknowledge(db, subscriber_id, id, Ack::Read, now).await?,
        ),
        Action::Archive(id) => (
            vec![id],
            acknowledge(db, subscriber_id, id, Ack::Archived, now).await?,
        ),
        Action::ReadAll => (Vec::new(), mark_all_read(db, subscriber_id, now).await?),
        // The unread pair does not move: nothing to announce.
        Action::Received(id) => {
            return acknowledge(db, subscriber_id, id, Ack::Received, now).await;
        }
        Action::Displayed(id) => {
            return acknowledge(db, subscriber_id, id, Ack::Displayed, now).await;
        }
    };
    bus.publish(subscriber_id, Signal::Read { ids, unread });
    Ok(unread)
}

/// [`act`] at the current time.
pub async fn act_now<C>(db: &C, bus: &Bus, subscriber_id: i64, action: Action) -> Result<Unread>
where
    C: ConnectionTrait + TransactionTrait,
{
    act(db, bus, subscriber_id, action, Utc::now()).await
}
