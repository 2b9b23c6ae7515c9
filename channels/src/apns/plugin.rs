//! The APNs plugin: `POST /3/device/{token}` over HTTP/2.

use async_trait::async_trait;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::ApnsConfig;
use super::token::ProviderTokens;
use crate::PushMessage;
use crate::channel::wrong_kind;
use crate::http::{
    build_client, classify_failure_status, classify_transport_error, read_body_summary,
};
use crate::prelude::*;

/// A running APNs channel.
pub struct ApnsChannel {
    client: reqwest::Client,
    base_url: String,
    topic: String,
    push_type: &'static str,
    tokens: ProviderTokens,
    max_concurrency: usize,
}

impl std::fmt::Debug for ApnsChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApnsChannel")
            .field("base_url", &self.base_url)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    reason: String,
}

impl ApnsChannel {
    pub fn new(config: &ApnsConfig) -> Result<Self, BuildError> {
        Ok(Self {
            client: build_client(&config.http, None)?,
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            topic: config.topic.clone(),
            push_type: config.push_type.as_str(),
            tokens: ProviderTokens::new(config)?,
            max_concurrency: config.max_concurrency,
        })
    }
}

/// `apns-id` must be a UUID. A key that already is one is used as it is;
/// any other key is hashed into one (version 8, "custom"), stable across retries.
pub fn apns_id_for(key: &IdempotencyKey) -> String {
    let text = key.as_str();
    if is_uuid(text) {
        return text.to_ascii_lowercase();
    }
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&Sha256::digest(text.as_bytes())[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(index, c)| match index {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `{"aps": {"alert": {...}}, ...data}`: custom data sits beside `aps`.
fn payload(message: &PushMessage) -> Value {
    let mut root = Map::new();
    for (key, value) in &message.data {
        if key != "aps" {
            root.insert(key.clone(), Value::String(value.clone()));
        }
    }
    root.insert(
        "aps".to_owned(),
        json!({ "alert": { "title": message.title, "body": message.body } }),
    );
    Value::Object(root)
}

#[async_trait]
impl Channel for ApnsChannel {
    fn kind(&self) -> PluginKind {
        PluginKind::Apns
    }

    #[tracing::instrument(skip_all, fields(channel = "apns", idempotency_key = %delivery.idempotency_key))]
    async fn send(&self, delivery: &Delivery) -> DeliveryOutcome {
        let Message::Push(message) = &delivery.message else {
            return wrong_kind(self.kind(), &delivery.message);
        };
        if message.token.is_empty() || !message.token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return DeliveryOutcome::endpoint_dead("an APNs device token is hexadecimal");
        }
        let token = match self.tokens.current() {
            Ok(token) => token,
            Err(error) => {
                return DeliveryOutcome::permanent(format!("cannot sign the APNs token: {error}"));
            }
        };
        let apns_id = apns_id_for(&delivery.idempotency_key);
        let priority = if self.push_type == "background" {
            "5"
        } else {
            "10"
        };
        let response = match self
            .client
            .post(format!("{}/3/device/{}", self.base_url, message.token))
            .header("authorization", format!("bearer {}", token.expose_secret()))
            .header("apns-topic", &self.topic)
            .header("apns-push-type", self.push_type)
            .header("apns-id", &apns_id)
            .header("apns-priority", priority)
            .json(&payload(message))
            .send()
            .await
        {
            Ok(response) => response,
            Err(error) => return classify_transport_error("APNs", &error),
        };
        let status = response.status();
        let headers = response.headers().clone();
        let summary = read_body_summary(response).await;
        if status.is_success() {
            let id = headers
                .get("apns-id")
                .and_then(|value| value.to_str().ok())
                .map_or(apns_id, str::to_owned);
            return DeliveryOutcome::delivered(Some(id), status.to_string());
        }
        let reason = serde_json::from_str::<ErrorBody>(&summary)
            .unwrap_or_default()
            .reason;
        if status == StatusCode::GONE {
            // `Unregistered`: the app is gone from the device.
            return DeliveryOutcome::endpoint_dead(format!("APNs answered {status}: {reason}"));
        }
        if status == StatusCode::FORBIDDEN
            && matches!(
                reason.as_str(),
                "ExpiredProviderToken" | "InvalidProviderToken"
            )
        {
            self.tokens.invalidate();
            return DeliveryOutcome::retryable(format!("APNs answered {status}: {reason}"), None);
        }
        classify_failure_status("APNs", status, &headers, &summary)
    }

    fn batch_concurrency(&self) -> usize {
        self.max_concurrency
    }
}
