//! A bounded load loop shared by every measurement, so plugin and baseline are
//! driven exactly alike: `concurrency` tasks take message numbers from one
//! counter until the count or the time limit is reached.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Rounds per measurement; the median is reported, which damps noise from other
/// work on the machine. Rounds of different subjects are interleaved.
pub const ROUNDS: usize = 5;

#[derive(Clone, Copy)]
pub struct Limits {
    pub messages: usize,
    pub max_time: Duration,
    pub concurrency: usize,
}

pub struct Measurement {
    pub sent: usize,
    pub failed: usize,
    pub elapsed: Duration,
    /// CPU time this process used meanwhile (client and sink together).
    pub cpu: Option<Duration>,
}

impl Measurement {
    pub fn per_second(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64()
    }

    /// Microseconds of CPU per message. Unlike the rate, this barely moves when
    /// other processes compete for the machine's cores.
    pub fn cpu_micros_per_message(&self) -> Option<f64> {
        let cpu = self.cpu?;
        (self.sent > 0).then(|| cpu.as_secs_f64() * 1e6 / self.sent as f64)
    }
}

/// User + system CPU time of this process, from /proc (Linux); `None` elsewhere.
fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // Linux reports these in clock ticks of 1/100 s on every common configuration.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Runs `send` (true = delivered) under `limits` and measures the throughput.
pub async fn drive<F, Fut>(limits: Limits, send: F) -> Measurement
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let send = Arc::new(send);
    let next = Arc::new(AtomicUsize::new(0));
    let delivered = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let cpu_before = process_cpu_time();
    let started = Instant::now();
    let deadline = started + limits.max_time;
    let workers: Vec<_> = (0..limits.concurrency)
        .map(|_| {
            let (send, next) = (Arc::clone(&send), Arc::clone(&next));
            let (delivered, failed) = (Arc::clone(&delivered), Arc::clone(&failed));
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= limits.messages || Instant::now() >= deadline {
                        return;
                    }
                    let counter = if send(n).await { &delivered } else { &failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    Measurement {
        sent: delivered.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        cpu: process_cpu_time()
            .zip(cpu_before)
            .map(|(after, before)| after.saturating_sub(before)),
    }
}

/// The median rate of several rounds.
pub fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(|a, b| a.total_cmp(b));
    rates[rates.len() / 2]
}

pub fn report(label: &str, rate: f64, baseline: Option<(&str, f64)>) {
    match baseline {
        Some((name, base)) => println!(
            "    {label:<42} {rate:>9.0} msg/s   {:>6.1}% of {name}",
            100.0 * rate / base
        ),
        None => println!("    {label:<42} {rate:>9.0} msg/s"),
    }
}
