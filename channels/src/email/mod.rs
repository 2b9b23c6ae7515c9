//! Email over SMTP (lettre): a bounded connection pool, plain / STARTTLS / implicit TLS,
//! multipart text + html and one-click unsubscribe headers.

mod classify;
mod compose;
mod config;
mod connect;
mod plugin;
mod pool;
#[cfg(test)]
mod tests;

pub use compose::{ComposeError, compose, message_id_for};
pub use config::{SmtpConfig, SmtpPoolSettings, SmtpSecurity};
pub use plugin::EmailChannel;
