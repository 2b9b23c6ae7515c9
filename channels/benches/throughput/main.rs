//! Throughput of the email and webhook plugins against local sinks, each beside a
//! raw baseline measured in the same run at the same concurrency.
//!
//! Run: `cargo bench -p herald-channels --bench throughput` (release build);
//! append `-- email` or `-- webhook` to run one part. Everything stays on
//! 127.0.0.1; each measurement is bounded in count and time.
#![allow(clippy::unwrap_used)]

mod email;
mod harness;
mod webhook;

// The tests' own peers: the SMTP server and the webhook receiver (as a sink).
#[path = "../../tests/it/support/receiver.rs"]
mod receiver;
#[path = "../../tests/it/support/smtp.rs"]
#[allow(dead_code)]
mod smtp;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let parts: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| arg == "email" || arg == "webhook")
        .collect();
    let wanted = |part: &str| parts.is_empty() || parts.iter().any(|p| p == part);
    runtime.block_on(async {
        if wanted("email") {
            email::run().await;
            println!();
        }
        if wanted("webhook") {
            webhook::run().await;
        }
    });
}
