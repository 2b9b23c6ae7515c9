//! What the receivers record: per phase, which messages arrived (a bitmap, so a
//! duplicate or a stray is seen), how late, and when the last one came.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;

/// Microseconds since the Unix epoch: the clock both sides of a measurement read.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// One measured phase (per-user steady, per-user flat out, broadcast).
pub struct Phase {
    /// Broadcast messages are identified by (seq, connection); per-user ones by seq.
    pub broadcast: bool,
    /// Deliveries expected in this phase; set when it starts.
    pub expected: AtomicU64,
    /// For per-user phases, the connection each seq was sent to.
    pub targets: OnceLock<Vec<u32>>,
    seen: Vec<AtomicU64>,
    pub delivered: AtomicU64,
    pub duplicates: AtomicU64,
    /// Arrived on a connection it was not sent to, or with an unknown seq.
    pub strays: AtomicU64,
    pub last_recv_us: AtomicU64,
    histogram: Mutex<Histogram<u64>>,
}

impl Phase {
    pub fn new(broadcast: bool, capacity: u64) -> Self {
        let words = capacity.div_ceil(64) as usize;
        Self {
            broadcast,
            expected: AtomicU64::new(0),
            targets: OnceLock::new(),
            seen: (0..words).map(|_| AtomicU64::new(0)).collect(),
            delivered: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            strays: AtomicU64::new(0),
            last_recv_us: AtomicU64::new(0),
            // 1 µs to 10 min, 3 significant figures.
            histogram: Mutex::new(
                Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds"),
            ),
        }
    }

    fn record(&self, index: u64, latency_us: u64, now: u64) {
        let Some(word) = self.seen.get((index / 64) as usize) else {
            self.strays.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let bit = 1u64 << (index % 64);
        if word.fetch_or(bit, Ordering::Relaxed) & bit != 0 {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.histogram
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .saturating_record(latency_us.max(1));
        self.last_recv_us.fetch_max(now, Ordering::Relaxed);
        self.delivered.fetch_add(1, Ordering::Relaxed);
    }

    /// Every recorded latency (µs, at the histogram's precision) with its count, so
    /// that the runs of several client processes can be merged exactly.
    pub fn latency_counts(&self) -> Vec<[u64; 2]> {
        let h = self
            .histogram
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        h.iter_recorded()
            .map(|v| {
                [
                    h.highest_equivalent(v.value_iterated_to()),
                    v.count_at_value(),
                ]
            })
            .collect()
    }

    /// p50, p90, p99, max in milliseconds.
    pub fn latency_ms(&self) -> [f64; 4] {
        let h = self
            .histogram
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if h.is_empty() {
            return [0.0; 4];
        }
        let ms = |us: u64| us as f64 / 1000.0;
        [
            ms(h.value_at_quantile(0.50)),
            ms(h.value_at_quantile(0.90)),
            ms(h.value_at_quantile(0.99)),
            ms(h.max()),
        ]
    }
}

/// Shared by every connection task.
pub struct Shared {
    pub phases: Vec<Phase>,
    /// Connections (= users) opened; broadcast index = seq * users + connection.
    pub users: u64,
    /// Connections that ended before the run did.
    pub dropped: AtomicU64,
    pub closing: AtomicBool,
}

impl Shared {
    /// A `message` payload arrived on connection `conn`: finds `sent_at`, `ph` and
    /// `seq` in its data (`"data":{"ph":"1","sent_at":"…","seq":"…"}`) without parsing
    /// the whole JSON. Anything else (unread counts, pings) is ignored.
    pub fn on_message(&self, conn: u32, text: &[u8]) {
        let (Some(sent), Some(ph), Some(seq)) = (
            field(text, b"\"sent_at\":\""),
            field(text, b"\"ph\":\""),
            field(text, b"\"seq\":\""),
        ) else {
            return;
        };
        let now = now_us();
        let Some(phase) = self.phases.get(ph as usize) else {
            return;
        };
        let index = if phase.broadcast {
            seq * self.users + u64::from(conn)
        } else {
            match phase.targets.get().and_then(|t| t.get(seq as usize)) {
                Some(&target) if target == conn => seq,
                _ => {
                    phase.strays.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        };
        phase.record(index, now.saturating_sub(sent), now);
    }

    pub fn connection_ended(&self) {
        if !self.closing.load(Ordering::Relaxed) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The decimal digits right after `key`.
fn field(text: &[u8], key: &[u8]) -> Option<u64> {
    let at = text.windows(key.len()).position(|w| w == key)? + key.len();
    let digits = &text[at..];
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    if end == 0 {
        return None;
    }
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_found_in_compact_json() {
        let text = br#"{"event":"message","id":7,"item":{"data":{"ph":"2","sent_at":"1700000000000000","seq":"41"}}}"#;
        assert_eq!(field(text, b"\"ph\":\""), Some(2));
        assert_eq!(field(text, b"\"seq\":\""), Some(41));
        assert_eq!(field(text, b"\"sent_at\":\""), Some(1_700_000_000_000_000));
        assert_eq!(field(text, b"\"nope\":\""), None);
    }
}
