//! Generic webhooks, signed per the Standard Webhooks specification and guarded
//! against SSRF.

mod config;
mod plugin;
mod signature;
#[cfg(test)]
mod tests;

pub use config::WebhookConfig;
pub use plugin::WebhookChannel;
pub use signature::WebhookSigner;
