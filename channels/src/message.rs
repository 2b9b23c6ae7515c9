//! Rendered messages, as the plugins receive them: content is final and every
//! address is already resolved. Nothing here refers to campaigns or templates.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A stable key for one delivery, identical on every retry, so receivers can drop
/// repeats. It becomes the `webhook-id`, the email `Message-ID`, the APNs `apns-id`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

/// Longest key accepted; keys end up in headers, and headers have practical limits.
const MAX_KEY_LEN: usize = 200;

/// Why a string cannot be an [`IdempotencyKey`].
#[derive(Debug, thiserror::Error)]
#[error("an idempotency key must be 1 to {MAX_KEY_LEN} printable ASCII characters without spaces")]
pub struct InvalidIdempotencyKey;

impl IdempotencyKey {
    /// Accepts 1–200 printable ASCII characters without spaces: the key is copied
    /// into protocol headers, where anything else would need escaping or be refused.
    pub fn parse(key: impl Into<String>) -> Result<Self, InvalidIdempotencyKey> {
        let key = key.into();
        let printable = key.bytes().all(|byte| byte.is_ascii_graphic());
        if key.is_empty() || key.len() > MAX_KEY_LEN || !printable {
            return Err(InvalidIdempotencyKey);
        }
        Ok(Self(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = InvalidIdempotencyKey;
    fn try_from(key: String) -> Result<Self, Self::Error> {
        Self::parse(key)
    }
}

impl From<IdempotencyKey> for String {
    fn from(key: IdempotencyKey) -> Self {
        key.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One message to deliver, with the key that identifies it across retries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub idempotency_key: IdempotencyKey,
    pub message: Message,
}

/// A rendered message for one channel kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    Email(EmailMessage),
    Webhook(WebhookMessage),
    Push(PushMessage),
    Mqtt(MqttMessage),
}

impl Message {
    /// A short name for log lines and "wrong message for this channel" reasons.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Email(_) => "email",
            Self::Webhook(_) => "webhook",
            Self::Push(_) => "push",
            Self::Mqtt(_) => "mqtt",
        }
    }
}

/// An email, ready for SMTP. Addresses are RFC 5322 mailboxes (`Name <a@b.c>` or `a@b.c`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EmailMessage {
    pub from: String,
    #[serde(default)]
    pub reply_to: Option<String>,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    #[serde(default)]
    pub html: Option<String>,
    /// Where a one-click unsubscribe (RFC 8058) is POSTed; adds `List-Unsubscribe`
    /// and `List-Unsubscribe-Post` when set.
    #[serde(default)]
    pub list_unsubscribe_url: Option<String>,
    /// Extra headers, added verbatim (e.g. `X-Campaign`); names must be ASCII.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

/// A JSON body for a generic webhook endpoint, sent byte for byte as it was rendered
/// (valid JSON, never parsed into a tree and written out again).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WebhookMessage {
    pub url: String,
    pub body: Box<RawValue>,
}

impl WebhookMessage {
    /// A webhook to `url` whose body is `body` serialised as JSON.
    pub fn of(url: impl Into<String>, body: &impl Serialize) -> serde_json::Result<Self> {
        Ok(Self {
            url: url.into(),
            body: serde_json::value::to_raw_value(body)?,
        })
    }
}

impl PartialEq for WebhookMessage {
    fn eq(&self, other: &Self) -> bool {
        self.url == other.url && self.body.get() == other.body.get()
    }
}

/// A notification for a third-party push provider (FCM, APNs, JPush).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PushMessage {
    /// The device or registration token issued by the provider.
    pub token: String,
    pub title: String,
    pub body: String,
    /// Custom key/value data; providers such as FCM accept string values only.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
}

/// A payload for an MQTT topic (usually from [`crate::mqtt::TopicTemplate`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MqttMessage {
    pub topic: String,
    pub payload: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_printable_ascii_without_spaces() {
        assert!(IdempotencyKey::parse("msg_01HZX-1.2").is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse("naïve").is_err());
        assert!(IdempotencyKey::parse("a".repeat(201)).is_err());
    }
}
