//! For tests that run Herald as separate processes (the workspace's `nodes` and
//! `workers` tests): a free port to give one, and reading its inbox streams.
#![allow(dead_code)] // used by the process tests at the workspace root

use std::time::{Duration, Instant};

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Reads an SSE stream until every one of `needles` has appeared (or fails after a
/// minute), returning what it read.
pub async fn read_until(stream: &mut reqwest::Response, needles: &[&str]) -> String {
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !needles.iter().all(|needle| seen.contains(needle)) {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("waiting for {needles:?}; got {seen}"))
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    seen
}
