//! What the worker did, for Prometheus: every attempt by channel and outcome, how long
//! sends took per channel instance, what was held back or put off, the pace of its
//! paced lanes per instance, and the backlog, dead letters and page tasks as last read
//! from the database. Registered into the
//! registry the process serves (`herald serve`'s API metrics, or `herald worker`'s own
//! listener, [`crate::probes`]).

use herald_channels::DeliveryOutcome;
use herald_core::channel::ChannelKind;
use herald_core::deliveries::Attempt;
use herald_core::deliveries::backlog::Backlog;
use herald_core::pacing::LanePace;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    channel: &'static str,
    /// `delivered`, `retryable` or `permanent`.
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InstanceLabels {
    channel: &'static str,
    /// The channel instance's name (shared with its route: no copy per send).
    instance: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PacedInstanceLabels {
    instance: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    /// The job queue's own names: `Pending`, `Queued`, `Running`, `Done`, `Failed`, `Killed`.
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScopeLabels {
    /// `all`, `channel` or `campaign`.
    scope: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BacklogLabels {
    /// `due`, `waiting`, `deferred` or `sending`.
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventBatchLabels {
    /// `waiting` (queued or being sent) or `dead`.
    state: &'static str,
}

#[derive(Clone, Debug)]
pub struct WorkerMetrics {
    attempts: Family<AttemptLabels, Counter>,
    send_seconds: Family<InstanceLabels, Histogram>,
    held: Counter,
    paced: Counter,
    backlog: Family<BacklogLabels, Gauge>,
    dead_letters: Gauge,
    pacing_rate: Family<PacedInstanceLabels, Gauge<f64, AtomicU64>>,
    paced_lanes: Family<PacedInstanceLabels, Gauge>,
    page_tasks: Family<TaskLabels, Gauge>,
    stops: Family<ScopeLabels, Gauge>,
    stopped: Counter,
    event_batches: Family<EventBatchLabels, Gauge>,
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
        }
        for state in BACKLOG_STATES {
            let _zero = metrics.backlog.get_or_create(&BacklogLabels { state });
        }
        metrics.stops(&[("all", 0), ("channel", 0), ("campaign", 0)]);
        metrics.event_batches(0, 0);
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
            pacing_rate: Family::default(),
            paced_lanes: Family::default(),
            page_tasks: Family::default(),
            stops: Family::default(),
            stopped: Counter::default(),
            event_batches: Family::default(),
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
            "Time a send took, by channel and channel instance",
            self.send_seconds.clone(),
        );
        registry.register(
            "pacing_rate_per_second",
            "Sends per second this worker allows through a channel instance's paced lanes (summed over its receiving hosts), as last published",
            self.pacing_rate.clone(),
        );
        registry.register(
            "paced_lanes",
            "A channel instance's receiving hosts this worker paces, as last published",
            self.paced_lanes.clone(),
        );
        registry.register(
            "page_tasks",
            "Campaign page tasks in the job queue by status, as last read",
            self.page_tasks.clone(),
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
            "sending_stops",
            "Kill-switch stops in force by scope, as this worker last read them",
            self.stops.clone(),
        );
        registry.register(
            "deliveries_stopped",
            "Sends the kill switch held back before they started (they wait queued)",
            self.stopped.clone(),
        );
        registry.register(
            "event_batches",
            "Batches of delivery events to products: waiting (queued or being sent) and dead",
            self.event_batches.clone(),
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
            self.attempts
                .get_or_create(&AttemptLabels { channel, outcome })
                .inc();
        }
    }

    /// Times one send through `instance`.
    pub fn sent(&self, channel: &'static str, instance: &Arc<str>, took: Duration) {
        self.send_seconds
            .get_or_create(&InstanceLabels {
                channel,
                instance: Arc::clone(instance),
            })
            .observe(took.as_secs_f64());
    }

    /// Shows this worker's paced lanes, summed per channel instance; an instance no
    /// longer paced drops to zero.
    pub fn pacing(&self, lanes: &[LanePace]) {
        let mut per_instance: HashMap<&str, (f64, i64)> = HashMap::new();
        for lane in lanes {
            let entry = per_instance.entry(&lane.instance).or_default();
            entry.0 += lane.rate_per_sec.unwrap_or(0.0);
            entry.1 += 1;
        }
        self.paced_lanes.clear();
        self.pacing_rate.clear();
        for (instance, (rate, lanes)) in per_instance {
            let labels = PacedInstanceLabels {
                instance: instance.to_owned(),
            };
            self.pacing_rate.get_or_create(&labels).set(rate);
            self.paced_lanes.get_or_create(&labels).set(lanes);
        }
    }

    /// Shows the job queue's page tasks by status.
    pub fn page_tasks(&self, counts: &[(String, i64)]) {
        self.page_tasks.clear();
        for (status, count) in counts {
            self.page_tasks
                .get_or_create(&TaskLabels {
                    status: status.clone(),
                })
                .set(*count);
        }
    }

    pub(crate) fn held(&self, count: usize) {
        self.held.inc_by(count as u64);
    }

    pub(crate) fn paced(&self, count: usize) {
        self.paced.inc_by(count as u64);
    }

    pub(crate) fn stopped(&self, count: usize) {
        self.stopped.inc_by(count as u64);
    }

    /// Shows the batches of delivery events to products still to send, and the dead ones.
    pub fn event_batches(&self, waiting: u64, dead: u64) {
        for (state, count) in [("waiting", waiting), ("dead", dead)] {
            self.event_batches
                .get_or_create(&EventBatchLabels { state })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// Shows the kill switch's stops in force, by scope.
    pub fn stops(&self, counts: &[(&'static str, usize)]) {
        for (scope, count) in counts {
            self.stops
                .get_or_create(&ScopeLabels { scope })
                .set(i64::try_from(*count).unwrap_or(i64::MAX));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(metrics: &WorkerMetrics) -> String {
        let mut registry = Registry::with_prefix("herald");
        metrics.register(&mut registry);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        out
    }

    fn lane(instance: &str, host: &str, rate: Option<f64>) -> LanePace {
        LanePace {
            instance: instance.to_owned(),
            host: host.to_owned(),
            rate_per_sec: rate,
            throttled_at: None,
        }
    }

    #[test]
    fn paced_lanes_are_summed_per_instance_and_vanish_when_unpaced() {
        let metrics = WorkerMetrics::default();
        metrics.pacing(&[
            lane("hooks", "a.example", Some(10.0)),
            lane("hooks", "b.example", Some(2.5)),
            lane("mail", "example.org", Some(4.0)),
        ]);
        let shown = text(&metrics);
        assert!(
            shown.contains(r#"herald_pacing_rate_per_second{instance="hooks"} 12.5"#),
            "{shown}"
        );
        assert!(
            shown.contains(r#"herald_paced_lanes{instance="hooks"} 2"#),
            "{shown}"
        );
        assert!(
            shown.contains(r#"herald_pacing_rate_per_second{instance="mail"} 4.0"#),
            "{shown}"
        );

        metrics.pacing(&[lane("mail", "example.org", Some(5.0))]);
        let shown = text(&metrics);
        assert!(!shown.contains(r#"instance="hooks""#), "{shown}");
        assert!(
            shown.contains(r#"herald_pacing_rate_per_second{instance="mail"} 5.0"#),
            "{shown}"
        );
    }

    #[test]
    fn event_batches_are_shown_from_the_start_and_as_counted() {
        let metrics = WorkerMetrics::default();
        let before = text(&metrics);
        assert!(
            before.contains(r#"herald_event_batches{state="waiting"} 0"#),
            "{before}"
        );
        metrics.event_batches(3, 1);
        let after = text(&metrics);
        assert!(
            after.contains(r#"herald_event_batches{state="waiting"} 3"#),
            "{after}"
        );
        assert!(
            after.contains(r#"herald_event_batches{state="dead"} 1"#),
            "{after}"
        );
    }

    #[test]
    fn sends_are_timed_per_channel_instance() {
        let metrics = WorkerMetrics::default();
        let instance: Arc<str> = Arc::from("hooks");
        metrics.sent("webhook", &instance, Duration::from_millis(3));
        metrics.sent("webhook", &instance, Duration::from_millis(5));
        let shown = text(&metrics);
        assert!(
            shown.contains(
                r#"herald_delivery_send_seconds_count{channel="webhook",instance="hooks"} 2"#
            ),
            "{shown}"
        );
    }
}
