//! The one trait every plugin implements.

use std::fmt;

use async_trait::async_trait;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::{Delivery, DeliveryOutcome, Message};

/// How many sends the default [`Channel::send_batch`] keeps in flight.
pub const DEFAULT_BATCH_CONCURRENCY: usize = 32;

/// The plugin families, as named in a channel instance's settings (`"kind": "smtp"`),
/// in logs and in push endpoints' `provider`: the one vocabulary for them. Not to be
/// confused with `herald_core::channel::ChannelKind`, the delivery channels operators
/// choose (`push` is served by the fcm, apns and jpush plugins).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginKind {
    Smtp,
    Webhook,
    Fcm,
    Apns,
    Jpush,
    Mqtt,
}

impl PluginKind {
    pub const ALL: [PluginKind; 6] = [
        Self::Smtp,
        Self::Webhook,
        Self::Fcm,
        Self::Apns,
        Self::Jpush,
        Self::Mqtt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Smtp => "smtp",
            Self::Webhook => "webhook",
            Self::Fcm => "fcm",
            Self::Apns => "apns",
            Self::Jpush => "jpush",
            Self::Mqtt => "mqtt",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A running channel plugin: delivers rendered messages and classifies what happened.
///
/// Implementations never sleep or retry: a failure comes back as
/// [`DeliveryOutcome::Retryable`] or [`DeliveryOutcome::Permanent`] and the caller
/// schedules the next attempt.
#[async_trait]
pub trait Channel: Send + Sync + fmt::Debug {
    fn kind(&self) -> PluginKind;

    /// Delivers one message. A message of the wrong kind for this plugin is a
    /// permanent failure, not a panic.
    async fn send(&self, delivery: &Delivery) -> DeliveryOutcome;

    /// Delivers many messages, returning one outcome per input, in input order.
    /// Providers with a native batch API override this; the default runs
    /// [`Channel::send`] with at most [`Channel::batch_concurrency`] in flight.
    async fn send_batch(&self, deliveries: &[Delivery]) -> Vec<DeliveryOutcome> {
        // Collected first: futures are lazy, and a closure inside the stream
        // trips the compiler's higher-ranked lifetime check on `Send`.
        let sends: Vec<_> = deliveries
            .iter()
            .map(|delivery| self.send(delivery))
            .collect();
        futures::stream::iter(sends)
            .buffered(self.batch_concurrency().max(1))
            .collect()
            .await
    }

    fn batch_concurrency(&self) -> usize {
        DEFAULT_BATCH_CONCURRENCY
    }
}

/// The outcome for a message handed to a plugin of another kind.
pub(crate) fn wrong_kind(channel: PluginKind, message: &Message) -> DeliveryOutcome {
    DeliveryOutcome::permanent(format!(
        "a {} channel cannot send a {} message",
        channel,
        message.kind_name()
    ))
}
