//! HTTP pieces shared by the webhook and push-provider plugins: the pooled client,
//! the SSRF guard, `Retry-After` parsing and status classification.

pub mod body;
mod classify;
mod client;
mod retry_after;
pub mod ssrf;

pub(crate) use body::read_capped;
pub(crate) use classify::{classify_failure_status, classify_transport_error, read_body_summary};
pub use client::HttpSettings;
pub(crate) use client::build_client;
pub use retry_after::parse_retry_after;
