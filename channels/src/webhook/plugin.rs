//! The webhook plugin: POSTs the JSON body, signed, to the message's URL.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use secrecy::ExposeSecret;
use url::Url;

use super::{WebhookConfig, WebhookSigner};
use crate::channel::wrong_kind;
use crate::http::body::MAX_BODY_BYTES;
use crate::http::ssrf::{GuardedResolver, Route, SsrfGuard};
use crate::http::{
    build_client, classify_failure_status, classify_transport_error, read_body_summary, read_capped,
};
use crate::prelude::*;

const WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");

/// A running webhook channel.
#[derive(Debug)]
pub struct WebhookChannel {
    guard: Arc<SsrfGuard>,
    /// Connects only to addresses the guard accepted.
    guarded_client: reqwest::Client,
    /// For URLs whose exact host:port the allow-list names; built only when it does.
    trusted_client: Option<reqwest::Client>,
    signer: WebhookSigner,
    max_concurrency: usize,
}

impl WebhookChannel {
    pub fn new(config: &WebhookConfig) -> Result<Self, BuildError> {
        let signer = WebhookSigner::from_secret(config.secret.expose_secret())?;
        let guard = Arc::new(SsrfGuard::new(&config.allow_list));
        let resolver = Arc::new(GuardedResolver::new(Arc::clone(&guard)));
        let guarded_client = build_client(&config.http, Some(resolver))?;
        let trusted_client = if guard.has_host_port_entries() {
            Some(build_client(&config.http, None)?)
        } else {
            None
        };
        Ok(Self {
            guard,
            guarded_client,
            trusted_client,
            signer,
            max_concurrency: config.max_concurrency,
        })
    }
}

#[async_trait]
impl Channel for WebhookChannel {
    fn kind(&self) -> PluginKind {
        PluginKind::Webhook
    }

    #[tracing::instrument(skip_all, fields(channel = "webhook", idempotency_key = %delivery.idempotency_key))]
    async fn send(&self, delivery: &Delivery) -> DeliveryOutcome {
        let Message::Webhook(message) = &delivery.message else {
            return wrong_kind(self.kind(), &delivery.message);
        };
        let url = match Url::parse(&message.url) {
            Ok(url) => url,
            Err(error) => {
                return DeliveryOutcome::permanent(format!("invalid webhook URL: {error}"));
            }
        };
        let client = match self.guard.check_url(&url) {
            Ok(Route::Guarded) => &self.guarded_client,
            Ok(Route::Trusted) => self.trusted_client.as_ref().unwrap_or(&self.guarded_client),
            Err(refused) => return DeliveryOutcome::permanent(refused.to_string()),
        };
        let body = message.body.get().as_bytes().to_vec();
        let message_id = delivery.idempotency_key.as_str();
        let timestamp = unix_now();
        let signature = self.signer.sign(message_id, timestamp, &body);

        let request = client
            .post(url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(WEBHOOK_ID, message_id)
            .header(WEBHOOK_TIMESTAMP, timestamp)
            .header(WEBHOOK_SIGNATURE, signature)
            .body(body);
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return classify_transport_error("webhook", &error),
        };
        let status = response.status();
        if status.is_success() {
            // Drained, not kept: reading a short body to the end returns the connection
            // to the pool; a long one is cut off (and its connection closed).
            let _ = read_capped(response, MAX_BODY_BYTES).await;
            return DeliveryOutcome::delivered(None, status.to_string());
        }
        let headers = response.headers().clone();
        let summary = read_body_summary(response).await;
        if status == StatusCode::GONE {
            // The receiver says this endpoint is gone for good (as Standard Webhooks
            // senders treat 410): disable it rather than retry.
            return DeliveryOutcome::endpoint_dead(format!("webhook answered {status}: {summary}"));
        }
        classify_failure_status("webhook", status, &headers, &summary)
    }

    fn batch_concurrency(&self) -> usize {
        self.max_concurrency
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
