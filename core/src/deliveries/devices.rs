//! Push and webhook messages go to every enabled endpoint of a subscriber (a phone and
//! a tablet, two integrations), one delivery each, so each device has its own outcome,
//! retries and idempotency key. Other channels address the subscriber's own fields
//! and have one delivery, with endpoint 0. A cap counts the message once per
//! subscriber and channel, however many devices it reaches.

use foldhash::{HashMap, HashMapExt};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::channel::ChannelKind;
use crate::db::ids_in;
use crate::entities::by_position::all_by_position;
use crate::entities::subscriber_endpoint;
use crate::error::Result;
use crate::rules::engine::Addresses;
#[cfg(doc)]
use crate::rules::engine::RuleSet;

/// The endpoint of a delivery that goes to no endpoint of its own.
pub const NO_ENDPOINT: i64 = 0;

/// Whether a delivery on `channel` goes to each endpoint of the subscriber.
pub fn per_endpoint(channel: ChannelKind) -> bool {
    matches!(channel, ChannelKind::Push | ChannelKind::Webhook)
}

/// Whether deliveries on `channel` go to an endpoint row (MQTT to the subscriber's
/// topic, if they named one).
fn has_endpoints(channel: ChannelKind) -> bool {
    per_endpoint(channel) || channel == ChannelKind::Mqtt
}

/// The enabled endpoints of some subscribers on the channels that have them.
#[derive(Debug, Default)]
pub struct Devices {
    /// Endpoint ids by subscriber and per-endpoint channel, oldest first.
    targets: HashMap<(i64, ChannelKind), Vec<i64>>,
    /// The endpoints themselves, oldest first: what the sends need (address, provider).
    endpoints: Vec<subscriber_endpoint::Model>,
}

impl Devices {
    /// Loads the enabled endpoints of `subscribers` (sorted ids) on `channels`, oldest
    /// first; nothing is read when no channel has endpoints.
    pub async fn load(
        conn: &impl ConnectionTrait,
        subscribers: &[i64],
        channels: &[ChannelKind],
    ) -> Result<Self> {
        let kinds: Vec<&str> = channels
            .iter()
            .filter(|c| has_endpoints(**c))
            .map(|c| c.as_str())
            .collect();
        if kinds.is_empty() || subscribers.is_empty() {
            return Ok(Self::default());
        }
        let rows: Vec<subscriber_endpoint::Model> = all_by_position(
            conn,
            subscriber_endpoint::Entity::find()
                .filter(ids_in(
                    conn,
                    subscriber_endpoint::Column::SubscriberId,
                    subscribers,
                ))
                .filter(subscriber_endpoint::Column::Channel.is_in(kinds))
                .filter(subscriber_endpoint::Column::Enabled.eq(true))
                .order_by_asc(subscriber_endpoint::Column::Id),
        )
        .await?;
        let mut devices = Self::default();
        // `ids_in` may read a range around the ids asked for.
        for endpoint in rows
            .into_iter()
            .filter(|e| subscribers.binary_search(&e.subscriber_id).is_ok())
        {
            if let Some(channel) = ChannelKind::parse(&endpoint.channel)
                && per_endpoint(channel)
            {
                devices
                    .targets
                    .entry((endpoint.subscriber_id, channel))
                    .or_default()
                    .push(endpoint.id);
            }
            devices.endpoints.push(endpoint);
        }
        Ok(devices)
    }

    /// The endpoints a delivery of `channel` to `subscriber` goes to: each device on a
    /// per-endpoint channel; otherwise, or when there is none, [`NO_ENDPOINT`] (the
    /// send then fails for want of an address, which the log shows).
    pub fn targets(&self, subscriber: i64, channel: ChannelKind) -> &[i64] {
        match self.targets.get(&(subscriber, channel)) {
            Some(endpoints) if !endpoints.is_empty() => endpoints,
            _ => &[NO_ENDPOINT],
        }
    }

    /// The loaded endpoints' addresses by subscriber and channel: what the rules engine
    /// checks ([`RuleSet::evaluate_knowing`]), so a batch reads its endpoints once.
    pub fn addresses(&self) -> Addresses {
        let mut addresses = Addresses::new();
        for endpoint in &self.endpoints {
            if let Some(channel) = ChannelKind::parse(&endpoint.channel) {
                addresses
                    .entry((endpoint.subscriber_id, channel))
                    .or_default()
                    .push(endpoint.address.clone());
            }
        }
        addresses
    }

    /// The endpoints loaded, oldest first.
    pub fn into_endpoints(self) -> Vec<subscriber_endpoint::Model> {
        self.endpoints
    }
}
