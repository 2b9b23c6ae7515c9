//! JPush (极光推送), v3 push API with HTTP basic authentication.

mod config;
mod plugin;
#[cfg(test)]
mod tests;

pub use config::JpushConfig;
pub use plugin::JpushChannel;
