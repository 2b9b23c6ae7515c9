//! Webhooks to the tests' receiver as a sink on 127.0.0.1: a bare reqwest loop against the plugin
//! (JSON body, Standard Webhooks signature, SSRF guard, outcome classification).

use std::sync::Arc;
use std::time::Duration;

use herald_channels::webhook::{WebhookChannel, WebhookConfig};
use herald_channels::{Channel, Delivery, IdempotencyKey, Message, WebhookMessage};

use crate::harness::{Limits, Measurement, drive, median, report};
use crate::receiver::Receiver;

/// More, shorter rounds than the email part: webhook rates swing with any other
/// load on a 2-core machine, and pairs of short rounds see the same load.
const PAIRED_ROUNDS: usize = 9;

const LIMITS: Limits = Limits {
    messages: 20_000,
    max_time: Duration::from_secs(2),
    concurrency: 32,
};

fn body() -> serde_json::Value {
    serde_json::json!({
        "type": "message.created",
        "data": { "subscriber": "u-1234", "title": "Your order shipped", "body": "Parcel A-17 is on its way" }
    })
}

async fn raw_reqwest(url: &str) -> Measurement {
    let client = reqwest::Client::builder().build().unwrap();
    let url = url.to_owned();
    let measured = drive(LIMITS, move |_| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let payload = serde_json::to_vec(&body()).unwrap();
            let response = client
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(payload)
                .send()
                .await;
            match response {
                Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await;
    assert_eq!(measured.failed, 0, "the raw loop failed some requests");
    measured
}

async fn plugin(url: &str) -> Measurement {
    let config: WebhookConfig = serde_json::from_value(serde_json::json!({
        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "allow_list": ["127.0.0.0/8"]
    }))
    .unwrap();
    let channel = Arc::new(WebhookChannel::new(&config).unwrap());
    let url = url.to_owned();
    let measured = drive(LIMITS, move |n| {
        let channel = Arc::clone(&channel);
        let delivery = Delivery {
            idempotency_key: IdempotencyKey::parse(format!("msg_{n}")).unwrap(),
            message: Message::Webhook(WebhookMessage::of(url.clone(), &body()).unwrap()),
        };
        async move { channel.send(&delivery).await.is_delivered() }
    })
    .await;
    assert_eq!(measured.failed, 0, "the plugin failed some requests");
    measured
}

pub async fn run() {
    let url = Receiver::sink(0).await.url("hooks");
    println!(
        "webhook -> axum sink on 127.0.0.1, up to {} requests or {:?} per round, {} in flight, median of {PAIRED_ROUNDS}",
        LIMITS.messages, LIMITS.max_time, LIMITS.concurrency
    );
    // Warm-up: connections, allocator, CPU frequency.
    raw_reqwest(&url).await;
    let (mut raw, mut signed) = (Vec::new(), Vec::new());
    for round in 0..PAIRED_ROUNDS {
        // Alternate who goes first, so neither always runs on a warmer or a
        // busier machine.
        if round % 2 == 0 {
            raw.push(raw_reqwest(&url).await);
            signed.push(plugin(&url).await);
        } else {
            signed.push(plugin(&url).await);
            raw.push(raw_reqwest(&url).await);
        }
    }
    // Each round's pair ran back to back, so its ratio is the least disturbed by
    // other work on the machine.
    let paired = median(
        raw.iter()
            .zip(&signed)
            .map(|(r, s)| s.per_second() / r.per_second())
            .collect(),
    );
    let cpu = |runs: &[Measurement]| {
        median(
            runs.iter()
                .filter_map(Measurement::cpu_micros_per_message)
                .collect(),
        )
    };
    let (raw_cpu, signed_cpu) = (cpu(&raw), cpu(&signed));
    let raw_rate = median(raw.iter().map(Measurement::per_second).collect());
    let signed_rate = median(signed.iter().map(Measurement::per_second).collect());
    report("bare reqwest loop (baseline)", raw_rate, None);
    report(
        "webhook plugin (signed, SSRF-guarded)",
        signed_rate,
        Some(("baseline", raw_rate)),
    );
    println!(
        "    median of per-round ratios (plugin / baseline): {:.1}%",
        100.0 * paired
    );
    println!(
        "    CPU per request, client and sink together: baseline {raw_cpu:.1} us, plugin {signed_cpu:.1} us \
         (baseline / plugin = {:.1}%; moves less than the rates when other work shares the cores)",
        100.0 * raw_cpu / signed_cpu
    );
}
