//! The MQTT plugin: publish with QoS 1 and wait for the broker's PUBACK.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rumqttc::{AsyncClient, MqttOptions, TlsConfiguration, Transport};
use secrecy::ExposeSecret;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::MqttConfig;
use super::acks::{AckTracker, drive};
use crate::channel::wrong_kind;
use crate::prelude::*;

/// Largest packet sent or accepted; rumqttc's own default (10 KiB) is too small
/// for rich payloads.
const MAX_PACKET_BYTES: usize = 1024 * 1024;

/// A running MQTT channel. Dropping it stops its connection task.
pub struct MqttChannel {
    client: AsyncClient,
    tracker: Arc<AckTracker>,
    in_flight: Semaphore,
    max_in_flight: usize,
    ack_timeout: Duration,
    retain: bool,
    connection_task: JoinHandle<()>,
}

impl std::fmt::Debug for MqttChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttChannel")
            .field("max_in_flight", &self.max_in_flight)
            .finish_non_exhaustive()
    }
}

impl Drop for MqttChannel {
    fn drop(&mut self) {
        self.connection_task.abort();
    }
}

impl MqttChannel {
    /// Starts the connection task; must be called inside a tokio runtime.
    pub fn new(config: &MqttConfig) -> Result<Self, BuildError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| BuildError::invalid("mqtt", "must be built inside a tokio runtime"))?;
        if config.max_in_flight == 0 {
            return Err(BuildError::invalid("max_in_flight", "must be at least 1"));
        }
        let client_id = config.client_id.clone().unwrap_or_else(|| {
            format!(
                "herald-{}-{:08x}",
                std::process::id(),
                rand::random::<u32>()
            )
        });
        let mut options = MqttOptions::new(client_id, config.host.clone(), config.port);
        options
            .set_keep_alive(Duration::from_secs(config.keep_alive_secs.max(1)))
            .set_clean_session(true)
            .set_inflight(config.max_in_flight)
            .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
        match (&config.username, &config.password) {
            (Some(user), password) => {
                let password = password.as_ref().map(|p| p.expose_secret().to_owned());
                options.set_credentials(user.clone(), password.unwrap_or_default());
            }
            (None, None) => {}
            (None, Some(_)) => return Err(BuildError::invalid("password", "needs a username")),
        }
        if config.tls {
            options.set_transport(Transport::tls_with_config(tls_configuration()?));
        }
        let max_in_flight = usize::from(config.max_in_flight);
        // Room for every in-flight publish plus as many abandoned by timed-out sends.
        let (client, event_loop) = AsyncClient::new(options, max_in_flight * 2);
        let tracker = Arc::new(AckTracker::default());
        let connection_task = runtime.spawn(drive(event_loop, Arc::clone(&tracker)));
        Ok(Self {
            client,
            tracker,
            in_flight: Semaphore::new(max_in_flight),
            max_in_flight,
            ack_timeout: Duration::from_millis(config.ack_timeout_ms),
            retain: config.retain,
            connection_task,
        })
    }
}

/// TLS through the aws-lc-rs provider and the Mozilla roots, named explicitly so
/// no process-wide rustls default is needed.
fn tls_configuration() -> Result<TlsConfiguration, BuildError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| BuildError::credential("tls", error))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConfiguration::Rustls(Arc::new(config)))
}

#[async_trait]
impl Channel for MqttChannel {
    fn kind(&self) -> PluginKind {
        PluginKind::Mqtt
    }

    #[tracing::instrument(skip_all, fields(channel = "mqtt", idempotency_key = %delivery.idempotency_key))]
    async fn send(&self, delivery: &Delivery) -> DeliveryOutcome {
        let Message::Mqtt(message) = &delivery.message else {
            return wrong_kind(self.kind(), &delivery.message);
        };
        if message.topic.is_empty() || message.topic.contains(['+', '#', '\0']) {
            return DeliveryOutcome::permanent(format!("invalid MQTT topic `{}`", message.topic));
        }
        let waited = tokio::time::timeout(self.ack_timeout, async {
            let Ok(_slot) = self.in_flight.acquire().await else {
                return Err("the MQTT channel is closed".to_owned());
            };
            let ack = self
                .tracker
                .publish(
                    &self.client,
                    &message.topic,
                    message.payload.clone(),
                    self.retain,
                )
                .await?;
            ack.await
                .unwrap_or_else(|_| Err("the MQTT connection task stopped".to_owned()))
        })
        .await;
        match waited {
            Ok(Ok(())) => DeliveryOutcome::delivered(None, "PUBACK"),
            Ok(Err(reason)) => DeliveryOutcome::retryable(reason, None),
            Err(_) => DeliveryOutcome::throttled(
                format!("no PUBACK within {} ms", self.ack_timeout.as_millis()),
                None,
            ),
        }
    }

    fn batch_concurrency(&self) -> usize {
        self.max_in_flight
    }
}
