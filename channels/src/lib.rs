//! Channel plugins (email, webhook and push providers, MQTT) behind one
//! `Channel` trait. Plugins get a rendered message and an address and classify the
//! outcome; they know nothing about campaigns, rules or the database.
//!
//! Build a plugin from its configuration with [`ChannelConfig::build`], or keep
//! named instances in a [`ChannelRegistry`]. Every plugin folder has the same shape:
//! `config.rs` (the serde settings), `plugin.rs` (the `Channel` impl) and `tests.rs`.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use herald_channels::{ChannelConfig, Delivery, DeliveryOutcome, IdempotencyKey, Message, WebhookMessage};
//!
//! let config: ChannelConfig = serde_json::from_str(
//!     r#"{"kind": "webhook", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}"#,
//! )?;
//! let channel = config.build()?;
//! let delivery = Delivery {
//!     idempotency_key: IdempotencyKey::parse("msg_2Kv9")?,
//!     message: Message::Webhook(WebhookMessage::of(
//!         "https://hooks.example.com/herald",
//!         &serde_json::json!({"type": "message.created"}),
//!     )?),
//! };
//! match channel.send(&delivery).await {
//!     DeliveryOutcome::Delivered { .. } => {}
//!     DeliveryOutcome::Retryable { retry_after, .. } => { /* reschedule, at least retry_after later */ }
//!     DeliveryOutcome::Permanent { endpoint_dead, .. } => { /* give up; disable the endpoint if dead */ }
//! }
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod apns;
mod channel;
mod config;
mod destinations;
pub mod email;
mod error;
pub mod fcm;
pub mod http;
pub mod jpush;
mod message;
pub mod mqtt;
mod outcome;
mod registry;
mod tls;
pub mod webhook;

pub use channel::{Channel, DEFAULT_BATCH_CONCURRENCY, PluginKind};
pub use config::ChannelConfig;
#[cfg(feature = "openapi")]
mod config_schema;
pub use error::BuildError;
pub use message::{
    Delivery, EmailMessage, IdempotencyKey, InvalidIdempotencyKey, Message, MqttMessage,
    PushMessage, WebhookMessage,
};
pub use outcome::DeliveryOutcome;
pub use registry::ChannelRegistry;
pub use tls::install_default_crypto_provider;

/// What a plugin module needs, in one import.
pub mod prelude {
    pub use crate::{
        BuildError, Channel, Delivery, DeliveryOutcome, IdempotencyKey, Message, PluginKind,
    };
}
