//! MQTT (rumqttc): QoS 1 publishes, reported delivered once the broker's PUBACK
//! arrives; the connection is kept up by a background event loop.

mod acks;
mod config;
mod plugin;
#[cfg(test)]
mod tests;
mod topic;

pub use config::MqttConfig;
pub use plugin::MqttChannel;
pub use topic::{InvalidTopic, TopicTemplate};
