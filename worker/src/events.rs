//! Sends delivery events to products' endpoints: gathers the outbox into batches,
//! claims the due ones and POSTs each through the webhook plugin, signed per Standard
//! Webhooks with its endpoint's secret (the batch id is the `webhook-id`, the same on
//! every retry), then records what happened.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use herald_channels::http::HttpSettings;
use herald_channels::http::ssrf::AllowEntry;
use herald_channels::webhook::{WebhookChannel, WebhookConfig};
use herald_channels::{
    Channel, Delivery, DeliveryOutcome, IdempotencyKey, Message, WebhookMessage,
};
use herald_core::config::Config;
use herald_core::deliveries::RetryPolicy;
use herald_core::entities::{event_batch, event_endpoint};
use herald_core::events::{batches, endpoints};
use herald_core::sealing::Sealer;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tokio::sync::Mutex;

/// Batches one round sends at most, concurrently.
const BATCHES_PER_ROUND: u64 = 16;

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventRound {
    /// Batches made from the outbox.
    pub gathered: u64,
    pub sent: batches::Tally,
}

pub struct EventSender {
    db: DatabaseConnection,
    sealer: Sealer,
    allow_list: Vec<AllowEntry>,
    policy: RetryPolicy,
    lease: Duration,
    /// Each endpoint's channel, as of its last change.
    channels: Mutex<HashMap<i64, Built>>,
}

/// An endpoint's channel and the endpoint's `updated_at` it was built from.
type Built = (DateTime<Utc>, Arc<WebhookChannel>);

impl EventSender {
    pub fn new(db: DatabaseConnection, config: &Config) -> herald_core::Result<Self> {
        Ok(Self {
            sealer: Sealer::from_config(&config.secrets, &config.data_dir)?,
            allow_list: config.channels.allowed_private_destinations.clone(),
            policy: RetryPolicy::from_config(&config.delivery),
            lease: Duration::from_secs(config.delivery.lease_secs),
            channels: Mutex::default(),
            db,
        })
    }

    /// Gathers the outbox, then sends and records the batches due now.
    pub async fn run_once(&self, now: DateTime<Utc>) -> herald_core::Result<EventRound> {
        if !batches::any_work(&self.db, now).await? {
            return Ok(EventRound::default());
        }
        let gathered = batches::gather(&self.db, now).await?;
        let due = batches::claim(&self.db, now, self.lease, BATCHES_PER_ROUND).await?;
        if due.is_empty() {
            return Ok(EventRound {
                gathered,
                ..EventRound::default()
            });
        }
        let ids: Vec<i64> = due.iter().map(|batch| batch.endpoint_id).collect();
        let endpoints: HashMap<i64, event_endpoint::Model> = event_endpoint::Entity::find()
            .filter(event_endpoint::Column::Id.is_in(ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|model| (model.id, model))
            .collect();
        let sends = due.into_iter().map(|batch| {
            let endpoint = endpoints.get(&batch.endpoint_id);
            self.send(batch, endpoint)
        });
        let sent = futures::future::join_all(sends).await;
        let tally = batches::record(&self.db, sent, &self.policy, Utc::now()).await?;
        Ok(EventRound {
            gathered,
            sent: tally,
        })
    }

    #[tracing::instrument(skip_all, fields(batch = batch.id, endpoint = batch.endpoint_id))]
    async fn send(
        &self,
        batch: event_batch::Model,
        endpoint: Option<&event_endpoint::Model>,
    ) -> batches::Sent {
        let started_at = Utc::now();
        let clock = Instant::now();
        let outcome = match endpoint {
            Some(endpoint) => match self.channel_for(endpoint).await {
                Ok(channel) => channel.send(&request(&batch, &endpoint.url)).await,
                Err(outcome) => outcome,
            },
            None => DeliveryOutcome::permanent("the endpoint was deleted"),
        };
        if let DeliveryOutcome::Retryable { reason, .. }
        | DeliveryOutcome::Permanent { reason, .. } = &outcome
        {
            tracing::info!(%reason, "event batch not delivered");
        }
        batches::Sent {
            batch,
            started_at,
            duration: clock.elapsed(),
            outcome,
        }
    }

    /// The endpoint's webhook channel, built again when the endpoint changed.
    async fn channel_for(
        &self,
        endpoint: &event_endpoint::Model,
    ) -> Result<Arc<WebhookChannel>, DeliveryOutcome> {
        let mut channels = self.channels.lock().await;
        if let Some((built_at, channel)) = channels.get(&endpoint.id)
            && *built_at == endpoint.updated_at
        {
            return Ok(Arc::clone(channel));
        }
        let secret = endpoints::secret_of(&self.sealer, endpoint).map_err(|error| {
            DeliveryOutcome::retryable(format!("the endpoint's secret: {error}"), None)
        })?;
        let config = WebhookConfig {
            secret,
            allow_list: self.allow_list.clone(),
            http: HttpSettings::default(),
            max_concurrency: 1,
        };
        let channel = Arc::new(
            WebhookChannel::new(&config)
                .map_err(|error| DeliveryOutcome::permanent(error.to_string()))?,
        );
        channels.insert(endpoint.id, (endpoint.updated_at, Arc::clone(&channel)));
        Ok(channel)
    }
}

/// The batch as a webhook request: its body as stored, its id as the `webhook-id`.
fn request(batch: &event_batch::Model, url: &str) -> Delivery {
    let body = serde_json::value::RawValue::from_string(batch.payload.clone())
        .unwrap_or_else(|_| serde_json::value::RawValue::NULL.to_owned());
    Delivery {
        idempotency_key: IdempotencyKey::parse(format!("evb_{}", batch.id))
            .expect("a batch id makes a valid key"),
        message: Message::Webhook(WebhookMessage {
            url: url.to_owned(),
            body,
        }),
    }
}
