//! Firebase Cloud Messaging, HTTP v1 API: a service-account JWT is exchanged for an
//! OAuth2 access token, which is cached and used to POST `messages:send`.

mod config;
mod plugin;
#[cfg(test)]
mod tests;
mod token;

pub use config::{FcmConfig, ServiceAccountKey};
pub use plugin::FcmChannel;
