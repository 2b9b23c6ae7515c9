//! Carries bus signals between processes, so that an item stored by any process (a
//! worker, another API node) reaches the streams open on every API node. What one
//! process publishes is sent as notices (many signals per notice) and every other
//! process wakes its own connections with them. New items travel inside their signal
//! whenever it fits the transport's message size, so a connection on another node
//! sends them on from memory, as it would on the node that stored them; a signal too
//! big to carry its items wakes the connection to read them instead.
//!
//! Two transports: Postgres LISTEN/NOTIFY ([`postgres`], the default on Postgres, no
//! extra server) and NATS ([`nats`], `bus.nats_url`, for many nodes: notices of up to
//! the server's payload limit instead of 8,000 bytes, and no load on the database).
//! Either may lose notices while it reconnects; every connection is then woken to look
//! in the database, which stays the record.

pub mod nats;
pub mod postgres;

use std::future::Future;

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::bus::{Bus, Signal};

#[derive(Serialize, Deserialize)]
struct Notice {
    /// The process that sent it: it has woken its own connections already.
    from: String,
    /// When it was sent (Unix milliseconds, the sender's clock): for [`RelayLag`].
    #[serde(default)]
    sent_at_ms: i64,
    signals: Vec<(i64, Signal)>,
}

/// Seconds from a notice's sending by one process to its arrival in this one, as the
/// two wall clocks tell (a skew between hosts shows in it too).
#[derive(Clone, Debug)]
pub struct RelayLag(Histogram);

impl Default for RelayLag {
    fn default() -> Self {
        // 0.5 ms to about 16 s.
        Self(Histogram::new(exponential_buckets(0.0005, 2.0, 16)))
    }
}

impl RelayLag {
    /// Adds the histogram to `registry` (whose prefix, `herald`, it takes).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "inbox_relay_lag_seconds",
            "Time from a process sending an inbox notice to this process receiving it",
            self.0.clone(),
        );
    }

    fn observe(&self, sent_at_ms: i64) {
        if sent_at_ms > 0 {
            let lag_ms = (now_ms() - sent_at_ms).max(0);
            self.0.observe(lag_ms as f64 / 1000.0);
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Forwards what is published on `bus` through `send` (one call per group of signals
/// that arrived together, split into payloads of at most `limit` bytes) until `stop`
/// is cancelled.
fn forward<F, Fut>(bus: &Bus, node: String, limit: usize, stop: CancellationToken, mut send: F)
where
    F: FnMut(Vec<String>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let (outbox, mut queued) = mpsc::unbounded_channel();
    bus.relay_to(outbox);
    tokio::spawn(async move {
        loop {
            let first = tokio::select! {
                () = stop.cancelled() => return,
                first = queued.recv() => match first { Some(first) => first, None => return },
            };
            let mut signals = vec![first];
            while let Ok(next) = queued.try_recv() {
                signals.push(next);
            }
            send(payloads(&node, signals, limit)).await;
        }
    });
}

/// Wakes connections here for a notice from another process.
fn receive(bus: &Bus, node: &str, payload: &[u8]) {
    let Ok(notice) = serde_json::from_slice::<Notice>(payload) else {
        tracing::warn!("ignored an inbox notice that is not one");
        return;
    };
    if notice.from == node {
        return;
    }
    bus.relay_lag().observe(notice.sent_at_ms);
    for (subscriber_id, signal) in notice.signals {
        bus.publish_here(subscriber_id, signal);
    }
}

/// Splits signals into notices of at most `limit` bytes. A signal whose items alone
/// would not fit goes without them (its connections read them from the database).
fn payloads(node: &str, signals: Vec<(i64, Signal)>, limit: usize) -> Vec<String> {
    let encode = |signals: Vec<(i64, Signal)>| {
        serde_json::to_string(&Notice {
            from: node.to_owned(),
            sent_at_ms: now_ms(),
            signals,
        })
        .unwrap_or_default()
    };
    // The envelope, then each signal with its separating comma.
    let envelope = encode(Vec::new()).len();
    let cost = |signal: &(i64, Signal)| serde_json::to_string(signal).map_or(0, |s| s.len()) + 1;
    let mut payloads = Vec::new();
    let mut batch = Vec::new();
    let mut size = envelope;
    for mut signal in signals {
        let mut signal_cost = cost(&signal);
        if envelope + signal_cost > limit
            && let Signal::Items { items, .. } = &mut signal.1
        {
            *items = None;
            signal_cost = cost(&signal);
        }
        if size + signal_cost > limit && !batch.is_empty() {
            payloads.push(encode(std::mem::take(&mut batch)));
            size = envelope;
        }
        size += signal_cost;
        batch.push(signal);
    }
    if !batch.is_empty() {
        payloads.push(encode(batch));
    }
    payloads
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::inbox::{InboxItem, Unread};

    fn item(id: i64, body: &str) -> InboxItem {
        InboxItem {
            id,
            category: "news".to_owned(),
            title: "Hello".to_owned(),
            body: body.to_owned(),
            data: serde_json::json!({ "n": id }),
            created_at: chrono::Utc::now(),
            read_at: None,
            archived_at: None,
            recalled_at: None,
        }
    }

    fn items_signal(id: i64, body: &str) -> (i64, Signal) {
        let unread = Unread {
            count: id,
            version: id,
        };
        let items = Some(Arc::from(vec![item(id, body).into()]));
        (id, Signal::Items { unread, items })
    }

    fn decoded(payloads: &[String]) -> Vec<(i64, Signal)> {
        payloads
            .iter()
            .flat_map(|p| serde_json::from_str::<Notice>(p).unwrap().signals)
            .collect()
    }

    #[test]
    fn many_signals_are_split_under_the_payload_limit_with_their_items() {
        let signals: Vec<(i64, Signal)> = (0..5_000).map(|id| items_signal(id, "hi")).collect();
        let payloads = payloads("node", signals.clone(), 7_500);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() <= 7_500));
        assert_eq!(decoded(&payloads), signals, "every signal arrives whole");
    }

    #[test]
    fn a_signal_too_big_to_carry_its_items_goes_without_them() {
        let big = items_signal(1, &"x".repeat(10_000));
        let small = items_signal(2, "hi");
        let payloads = payloads("node", vec![big, small.clone()], 7_500);
        assert!(payloads.iter().all(|p| p.len() <= 7_500));
        let arrived = decoded(&payloads);
        let unread = Unread {
            count: 1,
            version: 1,
        };
        let stripped = Signal::Items {
            unread,
            items: None,
        };
        assert_eq!(arrived, vec![(1, stripped), small]);
    }

    #[test]
    fn a_process_ignores_its_own_notices() {
        let bus = Bus::default();
        let mut listening = bus.subscribe(7);
        let notice = payloads("here", vec![(7, Signal::Recheck)], 7_500).remove(0);
        receive(&bus, "here", notice.as_bytes());
        assert!(listening.try_recv().is_err());
        receive(&bus, "elsewhere", notice.as_bytes());
        assert_eq!(listening.try_recv().unwrap(), Signal::Recheck);
    }
}
