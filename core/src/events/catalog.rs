//! The events a product can ask for.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    /// The channel accepted the message (the inbox stored it).
    #[serde(rename = "delivery.delivered")]
    Delivered,
    /// A permanent failure: retrying cannot help.
    #[serde(rename = "delivery.failed")]
    Failed,
    /// Retries ran out: a dead letter, which operators may re-drive.
    #[serde(rename = "delivery.dead_lettered")]
    DeadLettered,
    /// The subscriber read the inbox item.
    #[serde(rename = "inbox.read")]
    Read,
    /// The subscriber put the inbox item away.
    #[serde(rename = "inbox.dismissed")]
    Dismissed,
    /// The subscriber followed an unsubscribe link.
    #[serde(rename = "subscriber.unsubscribed")]
    Unsubscribed,
    /// The message was withdrawn from the inboxes it reached.
    #[serde(rename = "message.recalled")]
    Recalled,
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        EventType::Delivered,
        EventType::Failed,
        EventType::DeadLettered,
        EventType::Read,
        EventType::Dismissed,
        EventType::Unsubscribed,
        EventType::Recalled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Delivered => "delivery.delivered",
            EventType::Failed => "delivery.failed",
            EventType::DeadLettered => "delivery.dead_lettered",
            EventType::Read => "inbox.read",
            EventType::Dismissed => "inbox.dismissed",
            EventType::Unsubscribed => "subscriber.unsubscribed",
            EventType::Recalled => "message.recalled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_and_match_serde() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
    }
}
