//! One rustls crypto provider for the whole process.
//!
//! reqwest's `rustls` feature links aws-lc-rs while lettre links ring; with both
//! compiled in, rustls cannot pick a process default by itself and any code that calls
//! `ClientConfig::builder()` (rumqttc's TLS transport does) would panic. Installing
//! aws-lc-rs, the provider reqwest already uses, settles it for everyone.

/// Installs aws-lc-rs as the process-wide rustls provider unless one is already set.
/// Safe to call any number of times, from any thread.
pub fn install_default_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing the race to another thread is fine: a provider is installed either way.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}
