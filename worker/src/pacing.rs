//! Adaptive pacing per lane: a channel instance and a receiving host (the webhook's
//! host, the email domain; a push provider or broker is one host). A lane is unpaced
//! until its receiver pushes back ([`DeliveryOutcome::is_throttled`]); then it is paced
//! at half the rate the receiver accepted lately, cut at most once a second (a burst in
//! flight comes back throttled together), and grows again by a step for each second of
//! sends, between a floor and a ceiling (additive increase, multiplicative decrease).
//! A `Retry-After` pauses the lane.
//! Each worker paces its own sends; the current rates are published for the API.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use herald_channels::{DeliveryOutcome, Message};
use herald_core::config::PacingConfig;
use herald_core::pacing::LanePace;

/// The longest a `Retry-After` pauses a lane: a receiver asking for hours is retried by
/// the delivery's own schedule, not by stalling everything else sent to it.
const LONGEST_PAUSE: Duration = Duration::from_secs(60);

/// Push-back closer together than this is one event.
const CUT_INTERVAL: Duration = Duration::from_secs(1);

/// A lane unused this long, and not pushed back for [`CALM`], is forgotten: a campaign
/// to a million webhook hosts must not keep a million lanes. Forgotten, it is unpaced
/// again (or starts over at the ceiling).
const IDLE: Duration = Duration::from_secs(10);
const CALM: Duration = Duration::from_secs(600);

/// Lanes kept before the idle ones are looked for (then twice as many as remain).
const PRUNE_FROM: usize = 10_000;

/// Where a send goes, for pacing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lane {
    /// Shared with the route, so a lane costs no copy of the name per send.
    pub instance: Arc<str>,
    pub host: String,
}

impl Lane {
    /// The lane of `message` sent through instance `instance`: per host for webhooks,
    /// per domain for email; a push provider or a broker is one host.
    pub fn of(instance: &Arc<str>, message: &Message) -> Self {
        let host = match message {
            Message::Webhook(webhook) => host_of(&webhook.url),
            Message::Email(email) => email
                .to
                .first()
                .and_then(|to| to.trim_end_matches('>').rsplit_once('@'))
                .map(|(_, domain)| domain.to_ascii_lowercase())
                .unwrap_or_default(),
            _ => String::new(),
        };
        Self {
            instance: Arc::clone(instance),
            host,
        }
    }
}

/// The host of URL `url`, lower-cased: what lies between `//` (and any `user@`) and
/// the port, path, query or fragment. Read off the text rather than parsed as a URL,
/// which per send cost more than the rest of pacing; the plugin parses the URL anyway
/// and refuses a bad one.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = match host_port.find(']') {
        Some(end) if host_port.starts_with('[') => &host_port[..=end],
        _ => host_port.split(':').next().unwrap_or_default(),
    };
    host.to_ascii_lowercase()
}

#[derive(Debug)]
struct LaneState {
    rate: Option<f64>,
    /// When the next send may start.
    next_slot: Instant,
    last_used: Instant,
    last_cut: Option<Instant>,
    last_pushed_back: Option<Instant>,
    throttled_at: Option<DateTime<Utc>>,
    /// Sends the receiver accepted since `window_start`, and per second over the
    /// window before: what got through is what a cut halves.
    window_start: Instant,
    window_accepted: u32,
    accepted_before: f64,
}

impl LaneState {
    fn new(config: &PacingConfig, now: Instant) -> Self {
        Self {
            rate: (config.ceiling_per_sec > 0.0).then_some(config.ceiling_per_sec),
            next_slot: now,
            last_used: now,
            last_cut: None,
            last_pushed_back: None,
            throttled_at: None,
            window_start: now,
            window_accepted: 0,
            accepted_before: 0.0,
        }
    }

    fn forgettable(&self, now: Instant) -> bool {
        now.duration_since(self.last_used) >= IDLE
            && self
                .last_pushed_back
                .is_none_or(|at| now.duration_since(at) >= CALM)
    }

    fn roll(&mut self, now: Instant) {
        let window = now.duration_since(self.window_start);
        if window >= Duration::from_secs(1) {
            self.accepted_before = f64::from(self.window_accepted) / window.as_secs_f64();
            self.window_start = now;
            self.window_accepted = 0;
        }
    }

    /// Sends per second the receiver accepted lately (a window shorter than a second
    /// counts as one, so a first burst does not look faster than it is).
    fn accepted_rate(&self, now: Instant) -> f64 {
        let elapsed = now.duration_since(self.window_start).as_secs_f64().max(1.0);
        self.accepted_before
            .max(f64::from(self.window_accepted) / elapsed)
    }
}

/// The lanes of one worker.
#[derive(Debug)]
pub struct Pacer {
    config: PacingConfig,
    lanes: Mutex<Lanes>,
}

#[derive(Debug)]
struct Lanes {
    by_lane: HashMap<Lane, LaneState>,
    /// How many lanes make the next look for idle ones.
    prune_at: usize,
}

impl Lanes {
    fn prune(&mut self, now: Instant) {
        self.by_lane.retain(|_, state| !state.forgettable(now));
        self.prune_at = (self.by_lane.len() * 2).max(PRUNE_FROM);
    }
}

impl Pacer {
    pub fn new(config: PacingConfig) -> Self {
        Self {
            config,
            lanes: Mutex::new(Lanes {
                by_lane: HashMap::new(),
                prune_at: PRUNE_FROM,
            }),
        }
    }

    /// Waits for `lane`'s next slot if it comes by `latest`; otherwise takes no slot and
    /// answers when it would have come, so the send can be put off until then.
    pub async fn admit(&self, lane: &Lane, latest: Instant) -> Result<(), Instant> {
        if let Some(slot) = self.take_slot(lane, Instant::now(), latest)? {
            tokio::time::sleep_until(slot.into()).await;
        }
        Ok(())
    }

    /// The slot of a send starting `now`: `None` at once, a later instant to wait for,
    /// or an error with the slot when it would come after `latest` (no slot taken).
    fn take_slot(
        &self,
        lane: &Lane,
        now: Instant,
        latest: Instant,
    ) -> Result<Option<Instant>, Instant> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        if !lanes.by_lane.contains_key(lane) {
            if lanes.by_lane.len() >= lanes.prune_at {
                lanes.prune(now);
            }
            lanes
                .by_lane
                .insert(lane.clone(), LaneState::new(&self.config, now));
        }
        let Some(state) = lanes.by_lane.get_mut(lane) else {
            return Ok(None);
        };
        state.last_used = now;
        let slot = state.next_slot.max(now);
        if slot > latest {
            return Err(slot);
        }
        if let Some(rate) = state.rate {
            state.next_slot = slot + Duration::from_secs_f64(1.0 / rate);
        }
        Ok((slot > now).then_some(slot))
    }

    /// Learns from a send's outcome: push-back halves the lane's rate, a success lets
    /// it grow.
    pub fn observe(&self, lane: &Lane, outcome: &DeliveryOutcome) {
        self.observe_at(lane, outcome, Instant::now(), Utc::now());
    }

    fn observe_at(
        &self,
        lane: &Lane,
        outcome: &DeliveryOutcome,
        now: Instant,
        wall: DateTime<Utc>,
    ) {
        let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        let Some(state) = lanes.by_lane.get_mut(lane) else {
            return;
        };
        state.roll(now);
        match outcome {
            DeliveryOutcome::Retryable {
                throttled: true,
                retry_after,
                ..
            } => {
                state.throttled_at = Some(wall);
                state.last_pushed_back = Some(now);
                if let Some(wait) = retry_after {
                    state.next_slot = state.next_slot.max(now + (*wait).min(LONGEST_PAUSE));
                }
                if state
                    .last_cut
                    .is_some_and(|cut| now.duration_since(cut) < CUT_INTERVAL)
                {
                    return;
                }
                // Half of what got through (or of the pace, if slower): the next
                // second should all get through.
                let through = state.accepted_rate(now);
                let base = state.rate.map_or(through, |rate| rate.min(through));
                state.rate = Some(self.capped((base / 2.0).max(self.config.floor_per_sec)));
                state.last_cut = Some(now);
            }
            DeliveryOutcome::Delivered { .. } => {
                state.window_accepted += 1;
                if let Some(rate) = state.rate {
                    // `step` more per second: this send took 1/rate of a second.
                    state.rate = Some(self.capped(rate + self.config.step_per_sec / rate));
                }
            }
            _ => {}
        }
    }

    fn capped(&self, rate: f64) -> f64 {
        match self.config.ceiling_per_sec {
            ceiling if ceiling > 0.0 => rate.min(ceiling),
            _ => rate,
        }
    }

    /// Every lane that is paced or was pushed back, for publishing (called every
    /// heartbeat, it forgets idle, calm lanes first).
    pub fn rates(&self) -> Vec<LanePace> {
        self.rates_at(Instant::now())
    }

    fn rates_at(&self, now: Instant) -> Vec<LanePace> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        lanes.prune(now);
        let mut rates: Vec<LanePace> = lanes
            .by_lane
            .iter()
            .filter(|(_, state)| state.rate.is_some() || state.throttled_at.is_some())
            .map(|(lane, state)| LanePace {
                instance: lane.instance.to_string(),
                host: lane.host.clone(),
                rate_per_sec: state.rate,
                throttled_at: state.throttled_at,
            })
            .collect();
        rates.sort_by(|a, b| (&a.instance, &a.host).cmp(&(&b.instance, &b.host)));
        rates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(ceiling: f64) -> PacingConfig {
        PacingConfig {
            floor_per_sec: 1.0,
            ceiling_per_sec: ceiling,
            step_per_sec: 5.0,
        }
    }

    fn lane() -> Lane {
        Lane {
            instance: "hooks".into(),
            host: "example.com".into(),
        }
    }

    #[test]
    fn a_lane_is_per_host_of_the_url() {
        for (url, host) in [
            ("https://Hooks.Example.com/a?b#c", "hooks.example.com"),
            ("http://user:pw@127.0.0.1:8080/hook/1", "127.0.0.1"),
            ("http://[::1]:9000/x", "[::1]"),
            ("https://example.org", "example.org"),
            ("https://example.org?q=1", "example.org"),
        ] {
            let parsed = url::Url::parse(url).unwrap();
            assert_eq!(host_of(url), host, "{url}");
            assert_eq!(
                host_of(url),
                parsed.host_str().unwrap(),
                "as the URL parser reads {url}"
            );
        }
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    fn rate(pacer: &Pacer) -> Option<f64> {
        pacer.rates().first().and_then(|r| r.rate_per_sec)
    }

    #[test]
    fn push_back_halves_what_got_through_once_per_burst_and_successes_climb() {
        let pacer = Pacer::new(config(0.0));
        let start = Instant::now();
        let delivered = DeliveryOutcome::delivered(None, "200");
        let throttled = DeliveryOutcome::throttled("429", None);
        // A burst of 100, unpaced: the receiver takes 40 and refuses the rest.
        for _ in 0..100 {
            assert_eq!(pacer.take_slot(&lane(), start, far()), Ok(None));
        }
        let t = start + Duration::from_millis(200);
        for _ in 0..40 {
            pacer.observe_at(&lane(), &delivered, t, Utc::now());
        }
        assert!(pacer.rates().is_empty(), "not paced before push-back");
        for _ in 0..60 {
            pacer.observe_at(&lane(), &throttled, t, Utc::now());
        }
        assert_eq!(
            rate(&pacer),
            Some(20.0),
            "half of the 40 that got through, once"
        );
        // A second of sends at that pace adds one step.
        for _ in 0..20 {
            pacer.observe_at(&lane(), &delivered, t, Utc::now());
        }
        let climbed = rate(&pacer).unwrap();
        assert!((24.0..26.0).contains(&climbed), "{climbed}");
        // Push-back with nothing getting through goes down to the floor, a cut a second.
        for n in 2..40 {
            pacer.observe_at(&lane(), &throttled, t + Duration::from_secs(n), Utc::now());
        }
        assert_eq!(rate(&pacer), Some(1.0));
    }

    #[test]
    fn a_paced_lane_spaces_its_slots_and_retry_after_pauses_it() {
        let pacer = Pacer::new(config(10.0));
        let start = Instant::now();
        assert_eq!(pacer.take_slot(&lane(), start, far()), Ok(None));
        let second = pacer.take_slot(&lane(), start, far()).unwrap().unwrap();
        assert_eq!(second.duration_since(start), Duration::from_millis(100));
        let told = DeliveryOutcome::throttled("503", Some(Duration::from_secs(5)));
        pacer.observe_at(&lane(), &told, start, Utc::now());
        let after = pacer.take_slot(&lane(), start, far()).unwrap().unwrap();
        assert!(after.duration_since(start) >= Duration::from_secs(5));
        // A send that cannot wait that long takes no slot and learns when it may go.
        let soon = start + Duration::from_secs(1);
        let put_off = pacer.take_slot(&lane(), start, soon).unwrap_err();
        assert!(put_off > after, "the slot after the last one taken");
        // A ceiling holds the climb.
        let delivered = DeliveryOutcome::delivered(None, "200");
        for _ in 0..1_000 {
            pacer.observe_at(&lane(), &delivered, start, Utc::now());
        }
        assert_eq!(rate(&pacer), Some(10.0));
    }

    #[test]
    fn idle_lanes_are_forgotten_once_calm() {
        let pacer = Pacer::new(config(0.0));
        let start = Instant::now();
        pacer.take_slot(&lane(), start, far()).unwrap();
        let throttled = DeliveryOutcome::throttled("429", None);
        pacer.observe_at(&lane(), &throttled, start, Utc::now());
        let later = |d: Duration| pacer.rates_at(start + d).len();
        assert_eq!(later(IDLE), 1, "pushed back lately: kept");
        assert_eq!(later(CALM), 0, "idle and calm: forgotten");
    }

    #[test]
    fn a_send_to_a_new_host_forgets_idle_lanes_once_there_are_many() {
        let pacer = Pacer::new(config(0.0));
        let start = Instant::now();
        let host = |n: usize| Lane {
            instance: "hooks".into(),
            host: format!("h{n}.example"),
        };
        for n in 0..PRUNE_FROM {
            pacer.take_slot(&host(n), start, far()).unwrap();
        }
        pacer
            .take_slot(&host(PRUNE_FROM), start + IDLE, far())
            .unwrap();
        let lanes = pacer.lanes.lock().unwrap();
        assert_eq!(lanes.by_lane.len(), 1, "only the new one is left");
    }

    #[test]
    fn unpaced_lanes_that_never_pushed_back_are_not_published() {
        let pacer = Pacer::new(config(0.0));
        pacer.take_slot(&lane(), Instant::now(), far()).unwrap();
        pacer.observe(&lane(), &DeliveryOutcome::delivered(None, "200"));
        assert!(pacer.rates().is_empty());
    }
}
