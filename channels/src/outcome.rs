//! What happened to one delivery attempt. Plugins classify; the worker decides
//! the retry schedule, so no plugin ever sleeps or retries by itself.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The classified result of one send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// The provider accepted the message.
    Delivered {
        /// The provider's id for the message (FCM name, APNs apns-id, JPush msg_id,
        /// SMTP queue id as echoed in the reply), when it gives one.
        provider_message_id: Option<String>,
        /// A one-line summary of the provider's answer, for the delivery log.
        response: String,
    },
    /// A later attempt may succeed (throttling, 5xx, timeouts, lost connections).
    Retryable {
        reason: String,
        /// The earliest moment the provider asked us to come back, if it said.
        #[serde(
            rename = "retry_after_ms",
            serialize_with = "millis_out",
            deserialize_with = "millis_in",
            default
        )]
        retry_after: Option<Duration>,
        /// The receiver pushed back (429, SMTP 421, `Retry-After`, a timeout): a sender
        /// should slow down towards it, not only try this message again.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        throttled: bool,
    },
    /// Retrying cannot help.
    Permanent {
        reason: String,
        /// The address is gone for good (unregistered device token, ...): the caller
        /// should disable this endpoint.
        endpoint_dead: bool,
    },
}

impl DeliveryOutcome {
    pub fn delivered(provider_message_id: Option<String>, response: impl Into<String>) -> Self {
        Self::Delivered {
            provider_message_id,
            response: response.into(),
        }
    }

    pub fn retryable(reason: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self::Retryable {
            reason: reason.into(),
            retry_after,
            throttled: false,
        }
    }

    /// A retryable outcome where the receiver pushed back.
    pub fn throttled(reason: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self::Retryable {
            reason: reason.into(),
            retry_after,
            throttled: true,
        }
    }

    /// Whether the receiver pushed back: see [`DeliveryOutcome::throttled`].
    pub fn is_throttled(&self) -> bool {
        matches!(
            self,
            Self::Retryable {
                throttled: true,
                ..
            }
        )
    }

    pub fn permanent(reason: impl Into<String>) -> Self {
        Self::Permanent {
            reason: reason.into(),
            endpoint_dead: false,
        }
    }

    pub fn endpoint_dead(reason: impl Into<String>) -> Self {
        Self::Permanent {
            reason: reason.into(),
            endpoint_dead: true,
        }
    }

    pub fn is_delivered(&self) -> bool {
        matches!(self, Self::Delivered { .. })
    }
}

// Milliseconds on the wire: a plain number the delivery log and the API can show.
fn millis_out<S: Serializer>(value: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(duration) => {
            serializer.serialize_some(&u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
        }
        None => serializer.serialize_none(),
    }
}

fn millis_in<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    Ok(Option::<u64>::deserialize(deserializer)?.map(Duration::from_millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_round_trip_as_tagged_json() {
        let outcome = DeliveryOutcome::retryable("429", Some(Duration::from_secs(7)));
        let json = serde_json::to_value(&outcome).unwrap();
        let expected =
            serde_json::json!({"outcome": "retryable", "reason": "429", "retry_after_ms": 7000});
        assert_eq!(json, expected);
        assert_eq!(
            serde_json::from_value::<DeliveryOutcome>(json).unwrap(),
            outcome
        );
        let pushed_back = DeliveryOutcome::throttled("429", None);
        let json = serde_json::to_value(&pushed_back).unwrap();
        assert_eq!(json["throttled"], true);
        assert_eq!(
            serde_json::from_value::<DeliveryOutcome>(json).unwrap(),
            pushed_back
        );
        let dead = DeliveryOutcome::endpoint_dead("gone");
        let json = serde_json::to_string(&dead).unwrap();
        assert_eq!(
            serde_json::from_str::<DeliveryOutcome>(&json).unwrap(),
            dead
        );
    }
}
