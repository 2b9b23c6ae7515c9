//! The FCM plugin: `POST /v1/projects/{project}/messages:send` with a bearer token.

use async_trait::async_trait;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;

use super::FcmConfig;
use super::token::AccessTokens;
use crate::PushMessage;
use crate::channel::wrong_kind;
use crate::http::body::MAX_BODY_BYTES;
use crate::http::{
    build_client, classify_failure_status, classify_transport_error, read_body_summary, read_capped,
};
use crate::prelude::*;

/// A running FCM channel.
pub struct FcmChannel {
    client: reqwest::Client,
    send_url: String,
    tokens: AccessTokens,
    max_concurrency: usize,
}

impl std::fmt::Debug for FcmChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FcmChannel")
            .field("send_url", &self.send_url)
            .finish_non_exhaustive()
    }
}

/// The error body of the FCM v1 API (google.rpc.Status with FcmError details).
#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorStatus,
}

#[derive(Deserialize, Default)]
struct ErrorStatus {
    #[serde(default)]
    status: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: Vec<ErrorDetail>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(rename = "errorCode", default)]
    error_code: Option<String>,
}

impl FcmChannel {
    pub fn new(config: &FcmConfig) -> Result<Self, BuildError> {
        let account = config.service_account()?;
        let base = config.base_url.trim_end_matches('/');
        Ok(Self {
            client: build_client(&config.http, None)?,
            send_url: format!("{base}/v1/projects/{}/messages:send", account.project_id),
            tokens: AccessTokens::new(&account)?,
            max_concurrency: config.max_concurrency,
        })
    }
}

fn request_body(message: &PushMessage) -> serde_json::Value {
    json!({
        "message": {
            "token": message.token,
            "notification": { "title": message.title, "body": message.body },
            "data": message.data,
        }
    })
}

#[async_trait]
impl Channel for FcmChannel {
    fn kind(&self) -> PluginKind {
        PluginKind::Fcm
    }

    #[tracing::instrument(skip_all, fields(channel = "fcm", idempotency_key = %delivery.idempotency_key))]
    async fn send(&self, delivery: &Delivery) -> DeliveryOutcome {
        let Message::Push(message) = &delivery.message else {
            return wrong_kind(self.kind(), &delivery.message);
        };
        let token = match self.tokens.get(&self.client).await {
            Ok(token) => token,
            Err(outcome) => return outcome,
        };
        let response = match self
            .client
            .post(&self.send_url)
            .bearer_auth(token.expose_secret())
            .json(&request_body(message))
            .send()
            .await
        {
            Ok(response) => response,
            Err(error) => return classify_transport_error("FCM", &error),
        };
        let status = response.status();
        if status.is_success() {
            let name = read_capped(response, MAX_BODY_BYTES)
                .await
                .ok()
                .and_then(|body| serde_json::from_slice::<serde_json::Value>(&body.bytes).ok())
                .and_then(|body| body.get("name").and_then(|n| n.as_str()).map(str::to_owned));
            return DeliveryOutcome::delivered(name, status.to_string());
        }
        let headers = response.headers().clone();
        let summary = read_body_summary(response).await;
        let body: ErrorBody = serde_json::from_str(&summary).unwrap_or_default();
        let unregistered = body
            .error
            .details
            .iter()
            .any(|detail| detail.error_code.as_deref() == Some("UNREGISTERED"));
        if unregistered || status == StatusCode::NOT_FOUND {
            // The app was uninstalled or the token expired: this device is gone.
            return DeliveryOutcome::endpoint_dead(format!(
                "FCM answered {status} {}: {}",
                body.error.status, body.error.message
            ));
        }
        if status == StatusCode::UNAUTHORIZED {
            // Our access token was refused (revoked or expired early): fetch another.
            self.tokens.invalidate().await;
            return DeliveryOutcome::retryable(format!("FCM answered {status}: {summary}"), None);
        }
        classify_failure_status("FCM", status, &headers, &summary)
    }

    fn batch_concurrency(&self) -> usize {
        self.max_concurrency
    }
}
