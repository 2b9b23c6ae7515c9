//! Apple Push Notification service: token-based (ES256 JWT) authentication over
//! HTTP/2.

mod config;
mod plugin;
#[cfg(test)]
mod tests;
mod token;

pub use config::{ApnsConfig, ApnsPushType};
pub use plugin::{ApnsChannel, apns_id_for};
