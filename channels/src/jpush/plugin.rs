//! The JPush plugin: `POST /v3/push` to one registration id.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::JpushConfig;
use crate::PushMessage;
use crate::channel::wrong_kind;
use crate::http::{
    build_client, classify_failure_status, classify_transport_error, read_body_summary,
};
use crate::prelude::*;

/// JPush's "cannot find user by this audience": the registration id is unknown.
const UNKNOWN_AUDIENCE: i64 = 1011;

/// A running JPush channel.
pub struct JpushChannel {
    client: reqwest::Client,
    push_url: String,
    app_key: String,
    master_secret: SecretString,
    apns_production: bool,
    max_concurrency: usize,
}

impl std::fmt::Debug for JpushChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JpushChannel")
            .field("push_url", &self.push_url)
            .field("app_key", &self.app_key)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorDetail,
}

#[derive(Deserialize, Default)]
struct ErrorDetail {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

impl JpushChannel {
    pub fn new(config: &JpushConfig) -> Result<Self, BuildError> {
        if config.app_key.is_empty() {
            return Err(BuildError::invalid("app_key", "must not be empty"));
        }
        Ok(Self {
            client: build_client(&config.http, None)?,
            push_url: format!("{}/v3/push", config.base_url.trim_end_matches('/')),
            app_key: config.app_key.clone(),
            master_secret: config.master_secret.clone(),
            apns_production: config.apns_production,
            max_concurrency: config.max_concurrency,
        })
    }

    fn request_body(&self, message: &PushMessage) -> Value {
        json!({
            "platform": "all",
            "audience": { "registration_id": [message.token] },
            "notification": {
                "alert": message.body,
                "android": { "alert": message.body, "title": message.title, "extras": message.data },
                "ios": {
                    "alert": { "title": message.title, "body": message.body },
                    "extras": message.data,
                },
            },
            "options": { "apns_production": self.apns_production },
        })
    }
}

#[async_trait]
impl Channel for JpushChannel {
    fn kind(&self) -> PluginKind {
        PluginKind::Jpush
    }

    #[tracing::instrument(skip_all, fields(channel = "jpush", idempotency_key = %delivery.idempotency_key))]
    async fn send(&self, delivery: &Delivery) -> DeliveryOutcome {
        let Message::Push(message) = &delivery.message else {
            return wrong_kind(self.kind(), &delivery.message);
        };
        let response = match self
            .client
            .post(&self.push_url)
            .basic_auth(&self.app_key, Some(self.master_secret.expose_secret()))
            .json(&self.request_body(message))
            .send()
            .await
        {
            Ok(response) => response,
            Err(error) => return classify_transport_error("JPush", &error),
        };
        let status = response.status();
        let headers = response.headers().clone();
        let summary = read_body_summary(response).await;
        if status.is_success() {
            let msg_id = serde_json::from_str::<Value>(&summary)
                .ok()
                .and_then(|body| body.get("msg_id").cloned())
                .map(|id| match id {
                    Value::String(text) => text,
                    other => other.to_string(),
                });
            return DeliveryOutcome::delivered(msg_id, status.to_string());
        }
        let error = serde_json::from_str::<ErrorBody>(&summary)
            .unwrap_or_default()
            .error;
        if error.code == UNKNOWN_AUDIENCE {
            return DeliveryOutcome::endpoint_dead(format!(
                "JPush answered {status} ({}): {}",
                error.code, error.message
            ));
        }
        let outcome = classify_failure_status("JPush", status, &headers, &summary);
        if status == StatusCode::TOO_MANY_REQUESTS {
            return with_rate_limit_reset(outcome, &headers);
        }
        outcome
    }

    fn batch_concurrency(&self) -> usize {
        self.max_concurrency
    }
}

/// JPush announces when its quota refills in `X-Rate-Limit-Reset` (seconds) rather
/// than `Retry-After`; use it when `Retry-After` said nothing.
fn with_rate_limit_reset(
    outcome: DeliveryOutcome,
    headers: &reqwest::header::HeaderMap,
) -> DeliveryOutcome {
    match outcome {
        DeliveryOutcome::Retryable {
            reason,
            retry_after: None,
            throttled,
        } => {
            let reset = headers
                .get("x-rate-limit-reset")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            DeliveryOutcome::Retryable {
                reason,
                throttled: throttled || reset.is_some(),
                retry_after: reset,
            }
        }
        other => other,
    }
}
