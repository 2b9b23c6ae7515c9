//! Push and webhook messages go to every enabled endpoint of a subscriber (a phone and
//! a tablet, two integrations), one delivery each, so each device has its own outcome,
//! retries and idempotency key. Other channels address the subscriber's own fields
//! and have one delivery, with endpoint 0. A cap counts the message once per
//! subscriber and channel, however many devices it reaches.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::channel::ChannelKind;
use crate::db::ids_in;
use crate::entities::subscriber_endpoint;
use crate::error::Result;

/// The endpoint of a delivery that goes to no endpoint of its own.
pub const NO_ENDPOINT: i64 = 0;

/// Whether a delivery on `channel` goes to each endpoint of the subscriber.
pub fn per_endpoint(channel: ChannelKind) -> bool {
    matches!(channel, ChannelKind::Push | ChannelKind::Webhook)
}

/// The enabled endpoints of some subscribers on the per-endpoint channels.
#[derive(Debug, Default)]
pub struct Devices(HashMap<(i64, ChannelKind), Vec<i64>>);

impl Devices {
    /// Loads the enabled endpoints of `subscribers` (sorted ids) on `channels`, oldest
    /// first; nothing is read when no channel goes per endpoint.
    pub async fn load(
        conn: &impl ConnectionTrait,
        subscribers: &[i64],
        channels: &[ChannelKind],
    ) -> Result<Self> {
        let kinds: Vec<&str> = channels
            .iter()
            .filter(|c| per_endpoint(**c))
            .map(|c| c.as_str())
            .collect();
        if kinds.is_empty() || subscribers.is_empty() {
            return Ok(Self::default());
        }
        let rows: Vec<(i64, i64, String)> = subscriber_endpoint::Entity::find()
            .select_only()
            .columns([
                subscriber_endpoint::Column::Id,
                subscriber_endpoint::Column::SubscriberId,
                subscriber_endpoint::Column::Channel,
            ])
            .filter(ids_in(
                conn,
                subscriber_endpoint::Column::SubscriberId,
                subscribers,
            ))
            .filter(subscriber_endpoint::Column::Channel.is_in(kinds))
            .filter(subscriber_endpoint::Column::Enabled.eq(true))
            .order_by_asc(subscriber_endpoint::Column::Id)
            .into_tuple()
            .all(conn)
            .await?;
        let mut devices = Self::default();
        for (id, subscriber_id, channel) in rows {
            // `ids_in` may read a range around the ids asked for.
            if subscribers.binary_search(&subscriber_id).is_err() {
                continue;
            }
            if let Some(channel) = ChannelKind::parse(&channel) {
                devices
                    .0
                    .entry((subscriber_id, channel))
                    .or_default()
                    .push(id);
            }
        }
        Ok(devices)
    }

    /// The endpoints a delivery of `channel` to `subscriber` goes to: each device on a
    /// per-endpoint channel; otherwise, or when there is none, [`NO_ENDPOINT`] (the
    /// send then fails for want of an address, which the log shows).
    pub fn targets(&self, subscriber: i64, channel: ChannelKind) -> &[i64] {
        match self.0.get(&(subscriber, channel)) {
            Some(endpoints) if per_endpoint(channel) && !endpoints.is_empty() => endpoints,
            _ => &[NO_ENDPOINT],
        }
    }
}
