//! A webhook receiver for benchmarks, as its own process: the tests' receiver as a
//! sink, which answers every POST with 204 and counts it; `GET /count` tells how many.
//! Usage: `webhook_sink PORT`.
#![allow(clippy::unwrap_used)]

#[path = "../tests/it/support/receiver.rs"]
mod receiver;

#[tokio::main]
async fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(18090);
    let _sink = receiver::Receiver::sink(port).await;
    std::future::pending::<()>().await;
}
