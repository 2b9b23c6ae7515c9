//! The files in `deploy/` name only metrics Herald serves: every `herald_…` series the
//! Grafana dashboard and the Prometheus alerts query exists in what an API process and
//! a worker expose, so a renamed metric fails here rather than on a blank panel.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

// The channels tests' webhook receiver, which the helpers use as `support::receiver`.
#[path = "../channels/tests/it/support/receiver.rs"]
pub mod receiver;
mod support {
    pub use super::receiver;
}
#[allow(dead_code, unused_imports)] // the API tests' harness; this test uses part of it
#[path = "../api/tests/it/helpers/mod.rs"]
mod helpers;

use std::collections::BTreeSet;

use herald_worker::WorkerMetrics;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;

/// The series names in an OpenMetrics text.
fn series(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split(['{', ' ']).next())
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The `herald_…` names a file mentions.
fn mentioned(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("herald_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

#[tokio::test]
async fn the_dashboard_and_alerts_query_only_metrics_herald_serves() {
    // An API process's metrics, after a request (so its request series exist)...
    let app = helpers::spawn_app().await;
    let client = app.anonymous();
    client.get(app.url("/healthz")).send().await.unwrap();
    let api = client
        .get(format!("http://{}/metrics", app.metrics_addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // ... and a worker's, after a send through an instance it paces (series by instance
    // exist only then).
    let mut registry = Registry::with_prefix("herald");
    let metrics = WorkerMetrics::default();
    metrics.register(&mut registry);
    let instance: std::sync::Arc<str> = "hooks".into();
    metrics.sent("webhook", &instance, std::time::Duration::from_millis(3));
    metrics.pacing(&[herald_core::pacing::LanePace {
        instance: "hooks".to_owned(),
        host: "example.com".to_owned(),
        rate_per_sec: Some(5.0),
        throttled_at: None,
    }]);
    metrics.page_tasks(&[("Done".to_owned(), 3)]);
    let mut worker = String::new();
    encode(&mut worker, &registry).unwrap();
    let served: BTreeSet<String> = series(&api).union(&series(&worker)).cloned().collect();

    let dashboard = std::fs::read_to_string("deploy/grafana/herald.json").unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    for panel in parsed["panels"].as_array().unwrap() {
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{panel}");
        assert!(targets.iter().all(|t| t["expr"].is_string()), "{panel}");
    }
    let alerts = std::fs::read_to_string("deploy/prometheus/alerts.yml").unwrap();
    for (file, text) in [("dashboard", &dashboard), ("alerts", &alerts)] {
        let names = mentioned(text);
        assert!(!names.is_empty(), "{file} queries no Herald metric");
        let unknown: Vec<&String> = names.difference(&served).collect();
        assert!(
            unknown.is_empty(),
            "the {file} queries {unknown:?}, which Herald does not serve: {served:?}"
        );
    }
}
