//! What the worker did, for Prometheus: every attempt by channel and outcome, how long
//! sends took per channel, what was held back or put off, and the backlog and dead
//! letters as last read from the database. Registered into the
//! registry the process serves (`herald serve`'s API metrics, or `herald worker`'s own
//! listener, [`crate::probes`]).

use herald_channels::DeliveryOutcome;
use herald_core::channel::ChannelKind;
use herald_core::deliveries::Attempt;
use herald_core::deliveries::backlog::Backlog;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    channel: &'static str,
    /// `delivered`, `retryable` or `permanent`.
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    channel: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BacklogLabels {
    /// `due`, `waiting`, `deferred` or `sending`.
    state: &'static str,
}

#[derive(Clone, Debug)]
pub struct WorkerMetrics {
    attempts: Family<AttemptLabels, Counter>,
    send_seconds: Family<ChannelLabels, Histogram>,
    held: Counter,
    paced: Counter,
    backlog: Family<BacklogLabels, Gauge>,
    dead_letters: Gauge,
}

/// What an attempt's outcome is called in the metrics.
const OUTCOMES: [&str; 3] = ["delivered", "retryable", "permanent"];
const BACKLOG_STATES: [&str; 4] = ["due", "waiting", "deferred", "sending"];

impl Default for WorkerMetrics {
    /// Every series exists from the start at zero, so dashboards and rates see it
    /// before the first attempt.
    fn default() -> Self {
        let metrics = Self::empty();
        for channel in ChannelKind::ALL.map(ChannelKind::as_str) {
            for outcome in OUTCOMES {
                let _zero = metrics
                    .attempts
                    .get_or_create(&AttemptLabels { channel, outcome });
            }
            let _zero = metrics
                .send_seconds
                .get_or_create(&ChannelLabels { channel });
        }
        for state in BACKLOG_STATES {
            let _zero = metrics.backlog.get_or_create(&BacklogLabels { state });
        }
        metrics
    }
}

impl WorkerMetrics {
    fn empty() -> Self {
        Self {
            attempts: Family::default(),
            // 1 ms to about 16 s.
            send_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.001, 2.0, 15))
            }),
            held: Counter::default(),
            paced: Counter::default(),
            backlog: Family::default(),
            dead_letters: Gauge::default(),
        }
    }
}

impl WorkerMetrics {
    /// Adds these metrics to `registry` (whose prefix, `herald`, they take).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "delivery_attempts",
            "Delivery attempts made by the worker, by channel and outcome",
            self.attempts.clone(),
        );
        registry.register(
            "delivery_send_seconds",
            "Time a send took, by channel",
            self.send_seconds.clone(),
        );
        registry.register(
            "deliveries_held",
            "Deliveries a keyword rule held back once rendered",
            self.held.clone(),
        );
        registry.register(
            "deliveries_paced",
            "Deliveries their lane's pacing put off to a later slot",
            self.paced.clone(),
        );
        registry.register(
            "delivery_backlog",
            "Unfinished deliveries in the database by state, as last read",
            self.backlog.clone(),
        );
        registry.register(
            "dead_letters",
            "Deliveries out of retries, waiting to be re-driven, as last read",
            self.dead_letters.clone(),
        );
    }

    /// Shows `backlog` (read from the database; the same for every worker).
    pub(crate) fn backlog(&self, backlog: &Backlog) {
        let counts = [
            backlog.due,
            backlog.waiting,
            backlog.deferred,
            backlog.sending,
        ];
        for (state, count) in BACKLOG_STATES.into_iter().zip(counts) {
            let gauge = self.backlog.get_or_create(&BacklogLabels { state });
            gauge.set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        self.dead_letters
            .set(i64::try_from(backlog.dead).unwrap_or(i64::MAX));
    }

    /// Counts a batch's attempts, before they are recorded.
    pub(crate) fn attempted(&self, attempts: &[Attempt]) {
        for attempt in attempts {
            let outcome = match attempt.outcome {
                DeliveryOutcome::Delivered { .. } => OUTCOMES[0],
                DeliveryOutcome::Retryable { .. } => OUTCOMES[1],
                DeliveryOutcome::Permanent { .. } => OUTCOMES[2],
            };
            // A static name: no allocation per attempt on the hot path.
            let channel = ChannelKind::parse(&attempt.delivery.channel)
                .map_or("unknown", ChannelKind::as_str);
            self.send_seconds
                .get_or_create(&ChannelLabels { channel })
                .observe(attempt.duration.as_secs_f64());
            self.attempts
                .get_or_create(&AttemptLabels { channel, outcome })
                .inc();
        }
    }

    pub(crate) fn held(&self, count: usize) {
        self.held.inc_by(count as u64);
    }

    pub(crate) fn paced(&self, count: usize) {
        self.paced.inc_by(count as u64);
    }
}
