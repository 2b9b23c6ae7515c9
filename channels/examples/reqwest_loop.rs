//! The baseline for the delivery benchmark: a bare reqwest loop posting a small JSON
//! body to a URL with bounded concurrency, as fast as the receiver allows.
//! Usage: `reqwest_loop URL REQUESTS CONCURRENCY`; prints requests per second.

use std::time::Instant;

use futures::StreamExt;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("URL");
    let requests: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let concurrency: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(64);
    let client = reqwest::Client::new();
    let started = Instant::now();
    let failed = futures::stream::iter(0..requests)
        .map(|i| {
            let (client, url) = (client.clone(), format!("{url}/{i}"));
            async move {
                let body = serde_json::json!({ "to": format!("user-{i}"), "n": 1 });
                client
                    .post(url)
                    .header("webhook-id", format!("hd-{i}"))
                    .json(&body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .buffer_unordered(concurrency)
        .filter(|ok| std::future::ready(!ok))
        .count()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{requests} requests in {seconds:.2} s: {:.0}/s ({failed} failed)",
        requests as f64 / seconds
    );
}
