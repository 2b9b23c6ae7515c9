//! Load client for `bench/realtime`: holds N realtime connections to one target
//! (Herald: half SSE, half WebSocket; the `ws` peer: WebSocket; the socket.io peer:
//! socket.io over WebSocket), then measures, with the same workload on every target:
//!
//! 1. server RSS per idle connection ((RSS connected - RSS before) / N, from /proc);
//! 2. per-user messages at a steady rate, then flat out: each to one random connected
//!    user, stamped with the send time (µs since the epoch) in its data;
//! 3. broadcasts of one message to every connected user, one after another.
//!
//! Each receiver computes receive - send into an HDR histogram. Prints a report per
//! phase and a `SUMMARY {json}` line for `bench/realtime/run`.

mod conns;
mod procfs;
mod send;
mod stats;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use futures::StreamExt;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::procfs::{CpuUse, Snapshot, rss_kib};
use crate::send::Sender;
use crate::stats::{Phase, Shared, now_us};

/// Herald accepts at most this many recipients per `POST /v1/messages`.
const MAX_RECIPIENTS: usize = 1_000;
const STEADY: u8 = 1;
const FLAT: u8 = 2;
const BROADCAST: u8 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TargetKind {
    /// `herald serve`: even connections SSE, odd ones WebSocket.
    Herald,
    /// bench/realtime/peers/ws-server.mjs
    Ws,
    /// bench/realtime/peers/socketio-server.mjs
    Socketio,
}

#[derive(Parser, Debug)]
#[command(about = "Realtime fan-out benchmark client")]
struct Args {
    #[arg(long, value_enum)]
    target: TargetKind,
    /// host:port of the server.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// The server's process ids (comma-separated when it runs as several), for RSS and
    /// CPU readings, which are added up.
    #[arg(long, value_delimiter = ',', required = true)]
    pid: Vec<u32>,
    #[arg(long, default_value_t = 10_000)]
    connections: u32,
    /// The index of this client's first user: several client processes, each under its
    /// open-file limit, hold disjoint ranges of users.
    #[arg(long, default_value_t = 0)]
    first_user: u64,
    /// The local address connections are opened from. Each source address has its own
    /// ~28,000 ephemeral ports towards one server port.
    #[arg(long)]
    source_ip: Option<std::net::IpAddr>,
    /// With several client processes: once connected, write `ready.<first user>` (its
    /// connection count) in this folder and start the phases when `go` appears there.
    #[arg(long)]
    barrier: Option<std::path::PathBuf>,
    /// Connection attempts in flight at once (kept well under the listen backlog).
    #[arg(long, default_value_t = 128)]
    connect_concurrency: usize,
    /// Users are `<prefix><index>` for index in 0..connections.
    #[arg(long, default_value = "user-")]
    user_prefix: String,
    /// Herald: the subscriber token secret (HS256).
    #[arg(long, env = "BENCH_TOKEN_SECRET", hide_env_values = true)]
    token_secret: Option<String>,
    /// Herald: an API key with messages:send.
    #[arg(long, env = "BENCH_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Per-user messages sent at a steady rate.
    #[arg(long, default_value_t = 5_000)]
    steady_messages: u64,
    /// Messages per second in the steady phase.
    #[arg(long, default_value_t = 200.0)]
    steady_rate: f64,
    /// Per-user messages sent flat out.
    #[arg(long, default_value_t = 5_000)]
    flat_messages: u64,
    /// Requests in flight in the flat-out phase.
    #[arg(long, default_value_t = 64)]
    flat_concurrency: usize,
    /// Broadcasts of one message to every connected user, one after another.
    #[arg(long, default_value_t = 5)]
    broadcasts: u64,
    /// Seconds to wait for outstanding deliveries after the last send of a phase.
    #[arg(long, default_value_t = 20.0)]
    grace_secs: f64,
    /// Seconds to let the server settle after the last connection before reading RSS
    /// (its CPU use over this time is reported as idle CPU).
    #[arg(long, default_value_t = 5.0)]
    idle_secs: f64,
    /// Tokio worker threads (the client should stay on its own core).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Herald: which transports to open (`both` alternates SSE and WebSocket).
    #[arg(long, value_enum, default_value = "both")]
    herald_mix: Mix,
    /// A name for this run in the report.
    #[arg(long)]
    label: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mix {
    Both,
    Sse,
    Ws,
}

#[derive(Clone, Copy)]
enum Kind {
    Sse,
    Ws,
    Socketio,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    let code = runtime.block_on(run(args))?;
    // Ending the process closes every connection at once; no orderly shutdown needed.
    std::process::exit(code);
}

async fn run(args: Args) -> anyhow::Result<i32> {
    let label = args
        .label
        .clone()
        .unwrap_or_else(|| format!("{:?}", args.target).to_lowercase());
    let n = u64::from(args.connections);
    let shared = Arc::new(Shared {
        phases: vec![
            Phase::new(false, 0),
            Phase::new(false, args.steady_messages),
            Phase::new(false, args.flat_messages),
            Phase::new(true, n * args.broadcasts),
        ],
        users: n,
        dropped: AtomicU64::new(0),
        closing: Default::default(),
    });
    let users: Arc<Vec<String>> = Arc::new(
        (args.first_user..args.first_user + n)
            .map(|i| format!("{}{i}", args.user_prefix))
            .collect(),
    );
    let paths = paths(&args, &users)?;

    // --- connect
    let rss_before = rss_kib(&args.pid, "VmRSS");
    println!(
        "[{label}] opening {n} connections to {} ({} at a time); server RSS before: {} MiB",
        args.addr,
        args.connect_concurrency,
        rss_before / 1024
    );
    let retries = Arc::new(AtomicU64::new(0));
    let dial = conns::Dial {
        addr: args.addr.clone(),
        source: args.source_ip,
    };
    let before_connecting = Snapshot::take(&args.pid);
    let started = Instant::now();
    let mut outcomes = futures::stream::iter(0..args.connections)
        .map(|conn| {
            let (kind, path) = paths[conn as usize].clone();
            let (shared, dial, retries) = (shared.clone(), dial.clone(), retries.clone());
            async move {
                let outcome = open(kind, shared, conn, &dial, &path, &retries).await;
                (conn, outcome)
            }
        })
        .buffer_unordered(args.connect_concurrency.max(1));
    let mut connected: Vec<u32> = Vec::with_capacity(n as usize);
    let mut failures = 0u64;
    let mut first_failure: Option<String> = None;
    while let Some((conn, outcome)) = outcomes.next().await {
        match outcome {
            Ok(()) => connected.push(conn),
            Err(error) => {
                failures += 1;
                first_failure.get_or_insert_with(|| format!("{error:#}"));
            }
        }
    }
    drop(outcomes);
    let connect_secs = started.elapsed().as_secs_f64();
    // The server's work to open a stream (authenticate, position the feed, catch up).
    let connect_server_secs = before_connecting.since(&args.pid).server_secs;
    connected.sort_unstable();
    let live = connected.len() as u64;
    let connect_server_us = 1e6 * connect_server_secs / live.max(1) as f64;
    println!(
        "[{label}] connected {live}/{n} in {connect_secs:.1} s ({:.0}/s), server CPU {connect_server_us:.0} µs per connection, {} retried, {failures} failed{}",
        live as f64 / connect_secs,
        retries.load(Ordering::Relaxed),
        first_failure
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    if live == 0 {
        anyhow::bail!("no connection could be opened");
    }
    let idle = Snapshot::take(&args.pid);
    tokio::time::sleep(Duration::from_secs_f64(args.idle_secs)).await;
    let idle_cpu_pct = 100.0 * idle.since(&args.pid).server_secs / args.idle_secs;
    let rss_connected = rss_kib(&args.pid, "VmRSS");
    let kib_per_conn = rss_connected.saturating_sub(rss_before) as f64 / live as f64;
    println!(
        "[{label}] idle: server RSS {} MiB = {kib_per_conn:.1} KiB per connection over the {} MiB before; server CPU {idle_cpu_pct:.0}% of a core over {} s idle",
        rss_connected / 1024,
        rss_before / 1024,
        args.idle_secs
    );

    if let Some(folder) = &args.barrier {
        wait_at_barrier(folder, args.first_user, live).await?;
    }

    let sender = Arc::new(Sender::new(target(&args, &users, &connected)?)?);
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ u64::from(args.connections));
    let mut phases = Vec::new();

    // --- per-user, steady rate
    let pick = |count: u64, rng: &mut XorShift| -> Vec<u32> {
        (0..count)
            .map(|_| connected[(rng.next() % live) as usize])
            .collect()
    };
    if args.steady_messages > 0 {
        let phase = &shared.phases[STEADY as usize];
        let _ = phase.targets.set(pick(args.steady_messages, &mut rng));
        phase
            .expected
            .store(args.steady_messages, Ordering::Relaxed);
        let name = format!("per-user at {}/s", args.steady_rate);
        let result = per_user(
            &args,
            &shared,
            &sender,
            &users,
            STEADY,
            Some(args.steady_rate),
        )
        .await;
        phases.push(report(&label, "steady", &name, phase, &result));
    }

    // --- per-user, flat out
    if args.flat_messages > 0 {
        let phase = &shared.phases[FLAT as usize];
        let _ = phase.targets.set(pick(args.flat_messages, &mut rng));
        phase.expected.store(args.flat_messages, Ordering::Relaxed);
        let name = format!("per-user flat out ({} in flight)", args.flat_concurrency);
        let result = per_user(&args, &shared, &sender, &users, FLAT, None).await;
        phases.push(report(&label, "flat", &name, phase, &result));
    }

    // --- broadcast
    if args.broadcasts > 0 {
        let phase = &shared.phases[BROADCAST as usize];
        phase
            .expected
            .store(args.broadcasts * live, Ordering::Relaxed);
        let errors_before = sender.errors.load(Ordering::Relaxed);
        let snapshot = Snapshot::take(&args.pid);
        let mut busy_us = 0u64;
        // Until the last request is answered: what follows it is the fan-out.
        let mut answered_us = 0u64;
        for seq in 0..args.broadcasts {
            let sent_at = now_us();
            sender.broadcast(BROADCAST, seq).await;
            answered_us += now_us().saturating_sub(sent_at);
            wait_for(phase, (seq + 1) * live, args.grace_secs).await;
            busy_us += phase
                .last_recv_us
                .load(Ordering::Relaxed)
                .saturating_sub(sent_at);
            // Let follow-up frames (Herald's unread counts) drain before the next one.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let result = PhaseRun {
            sent: args.broadcasts,
            errors: sender.errors.load(Ordering::Relaxed) - errors_before,
            active_secs: busy_us as f64 / 1e6,
            cpu: snapshot.since(&args.pid),
        };
        let how = match args.target {
            TargetKind::Herald => format!(
                "{} broadcasts to {live} users, each {} concurrent POST /v1/messages of <= {MAX_RECIPIENTS} recipients",
                args.broadcasts,
                live.div_ceil(MAX_RECIPIENTS as u64)
            ),
            _ => format!(
                "{} broadcasts to {live} users, each one POST /broadcast",
                args.broadcasts
            ),
        };
        let mut reported = report(&label, "broadcast", &how, phase, &result);
        let answered_ms = answered_us as f64 / 1e3 / args.broadcasts as f64;
        println!(
            "[{label}]   each broadcast's requests answered after {answered_ms:.1} ms on average"
        );
        reported["answered_ms"] = json!(answered_ms);
        phases.push(reported);
    }

    shared.closing.store(true, Ordering::Relaxed);
    let dropped = shared.dropped.load(Ordering::Relaxed);
    let rss_end = rss_kib(&args.pid, "VmRSS");
    let rss_peak = rss_kib(&args.pid, "VmHWM");
    println!(
        "[{label}] end: {dropped} connections dropped by the server during the run; server RSS {} MiB (peak {} MiB)",
        rss_end / 1024,
        rss_peak / 1024
    );
    if let Some(error) = sender
        .first_error
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_ref()
    {
        println!("[{label}] first send error: {error}");
    }
    let summary = json!({
        "label": label,
        "target": format!("{:?}", args.target).to_lowercase(),
        "connections": n,
        "connected": live,
        "connect_server_us_per_conn": connect_server_us,
        "connect_failures": failures,
        "connect_retries": retries.load(Ordering::Relaxed),
        "connect_secs": connect_secs,
        "rss_before_kib": rss_before,
        "rss_connected_kib": rss_connected,
        "kib_per_idle_conn": kib_per_conn,
        "idle_server_cpu_pct": idle_cpu_pct,
        "rss_end_kib": rss_end,
        "rss_peak_kib": rss_peak,
        "dropped": dropped,
        "phases": phases,
    });
    println!("SUMMARY {summary}");
    Ok(0)
}

/// What each connection opens: Herald alternates SSE and WebSocket with a signed token
/// each; the peers take `?user=`.
fn paths(args: &Args, users: &[String]) -> anyhow::Result<Vec<(Kind, String)>> {
    match args.target {
        TargetKind::Herald => {
            let secret = args
                .token_secret
                .as_deref()
                .context("--token-secret (or BENCH_TOKEN_SECRET) is needed for Herald")?;
            let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
            let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
            let exp = now_us() / 1_000_000 + 24 * 3600;
            users
                .iter()
                .enumerate()
                .map(|(i, user)| {
                    let claims =
                        json!({ "sub": user, "aud": "herald", "iat": exp - 24 * 3600, "exp": exp });
                    let token = jsonwebtoken::encode(&header, &claims, &key)?;
                    let sse = match args.herald_mix {
                        Mix::Both => i % 2 == 0,
                        Mix::Sse => true,
                        Mix::Ws => false,
                    };
                    Ok(if sse {
                        (Kind::Sse, format!("/v1/stream/sse?token={token}"))
                    } else {
                        (Kind::Ws, format!("/v1/stream/ws?token={token}"))
                    })
                })
                .collect()
        }
        TargetKind::Ws => Ok(users
            .iter()
            .map(|u| (Kind::Ws, format!("/?user={u}")))
            .collect()),
        TargetKind::Socketio => Ok(users.iter().map(|u| (Kind::Socketio, u.clone())).collect()),
    }
}

fn target(args: &Args, users: &[String], connected: &[u32]) -> anyhow::Result<send::Target> {
    let base = format!("http://{}", args.addr);
    Ok(match args.target {
        TargetKind::Herald => send::Target::Herald {
            base,
            api_key: args
                .api_key
                .clone()
                .context("--api-key (or BENCH_API_KEY) is needed for Herald")?,
            chunks: connected
                .chunks(MAX_RECIPIENTS)
                .map(|chunk| {
                    let ids: Vec<&str> =
                        chunk.iter().map(|&c| users[c as usize].as_str()).collect();
                    serde_json::to_string(&ids).unwrap_or_default()
                })
                .collect(),
        },
        TargetKind::Ws | TargetKind::Socketio => send::Target::Peer { base },
    })
}

/// Says this client is connected (`ready.<first user>` holding its connection count)
/// and waits for the run's script to create `go`, once every client is connected and
/// the servers' memory has been read.
async fn wait_at_barrier(
    folder: &std::path::Path,
    first_user: u64,
    live: u64,
) -> anyhow::Result<()> {
    let ready = folder.join(format!("ready.{first_user}"));
    std::fs::write(&ready, live.to_string())
        .with_context(|| format!("writing {}", ready.display()))?;
    while !folder.join("go").exists() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Opens one connection (three attempts) and spawns its reader.
async fn open(
    kind: Kind,
    shared: Arc<Shared>,
    conn: u32,
    dial: &conns::Dial,
    path: &str,
    retries: &AtomicU64,
) -> anyhow::Result<()> {
    let mut attempt = 0u64;
    loop {
        let result = match kind {
            Kind::Sse => conns::connect_sse(dial, path)
                .await
                .map(|s| drop(tokio::spawn(conns::read_sse(shared.clone(), conn, s)))),
            Kind::Ws => conns::connect_ws(dial, path)
                .await
                .map(|w| drop(tokio::spawn(conns::read_ws(shared.clone(), conn, w)))),
            Kind::Socketio => conns::connect_socketio(dial, path)
                .await
                .map(|w| drop(tokio::spawn(conns::read_socketio(shared.clone(), conn, w)))),
        };
        match result {
            Ok(()) => return Ok(()),
            Err(error) if attempt >= 2 => return Err(error),
            Err(_) => {
                attempt += 1;
                retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(250 * attempt)).await;
            }
        }
    }
}

struct PhaseRun {
    sent: u64,
    errors: u64,
    /// Seconds from the first send to the last delivery.
    active_secs: f64,
    cpu: CpuUse,
}

/// Sends the phase's messages, at `rate` per second or flat out, then waits for them.
async fn per_user(
    args: &Args,
    shared: &Arc<Shared>,
    sender: &Arc<Sender>,
    users: &Arc<Vec<String>>,
    ph: u8,
    rate: Option<f64>,
) -> PhaseRun {
    let phase = &shared.phases[ph as usize];
    let targets: Arc<Vec<u32>> = Arc::new(phase.targets.get().cloned().unwrap_or_default());
    let count = targets.len() as u64;
    let errors_before = sender.errors.load(Ordering::Relaxed);
    let snapshot = Snapshot::take(&args.pid);
    let first_send = now_us();
    match rate {
        Some(rate) => {
            // Due messages go out every millisecond, each its own request, with at most
            // IN_FLIGHT outstanding (if the target cannot keep up, the rate drops).
            const IN_FLIGHT: u32 = 1024;
            let permits = Arc::new(Semaphore::new(IN_FLIGHT as usize));
            let start = Instant::now();
            let mut next = 0u64;
            while next < count {
                let due = ((start.elapsed().as_secs_f64() * rate) as u64 + 1).min(count);
                while next < due {
                    let Ok(permit) = permits.clone().acquire_owned().await else {
                        break;
                    };
                    let (sender, users, targets) = (sender.clone(), users.clone(), targets.clone());
                    let seq = next;
                    tokio::spawn(async move {
                        let user = &users[targets[seq as usize] as usize];
                        sender.send_one(user, ph, seq).await;
                        drop(permit);
                    });
                    next += 1;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let _ = permits.acquire_many(IN_FLIGHT).await;
        }
        None => {
            let counter = Arc::new(AtomicU64::new(0));
            let workers: Vec<_> = (0..args.flat_concurrency.max(1))
                .map(|_| {
                    let (sender, users, targets, counter) = (
                        sender.clone(),
                        users.clone(),
                        targets.clone(),
                        counter.clone(),
                    );
                    tokio::spawn(async move {
                        loop {
                            let seq = counter.fetch_add(1, Ordering::Relaxed);
                            if seq >= count {
                                break;
                            }
                            let user = &users[targets[seq as usize] as usize];
                            sender.send_one(user, ph, seq).await;
                        }
                    })
                })
                .collect();
            futures::future::join_all(workers).await;
        }
    }
    wait_for(phase, count, args.grace_secs).await;
    let last = phase.last_recv_us.load(Ordering::Relaxed);
    PhaseRun {
        sent: count,
        errors: sender.errors.load(Ordering::Relaxed) - errors_before,
        active_secs: last.saturating_sub(first_send) as f64 / 1e6,
        cpu: snapshot.since(&args.pid),
    }
}

/// Until `target` deliveries arrived, or `grace` seconds passed without a new one.
async fn wait_for(phase: &Phase, target: u64, grace: f64) {
    let mut last_count = phase.delivered.load(Ordering::Relaxed);
    let mut last_progress = Instant::now();
    loop {
        let delivered = phase.delivered.load(Ordering::Relaxed);
        if delivered >= target {
            return;
        }
        if delivered != last_count {
            last_count = delivered;
            last_progress = Instant::now();
        } else if last_progress.elapsed().as_secs_f64() > grace {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn report(label: &str, key: &str, name: &str, phase: &Phase, run: &PhaseRun) -> serde_json::Value {
    let expected = phase.expected.load(Ordering::Relaxed);
    let delivered = phase.delivered.load(Ordering::Relaxed);
    let duplicates = phase.duplicates.load(Ordering::Relaxed);
    let strays = phase.strays.load(Ordering::Relaxed);
    let lost = expected.saturating_sub(delivered);
    let rate = if run.active_secs > 0.0 {
        delivered as f64 / run.active_secs
    } else {
        0.0
    };
    let [p50, p90, p99, max] = phase.latency_ms();
    let per_delivery_us = if delivered > 0 {
        run.cpu.server_secs * 1e6 / delivered as f64
    } else {
        0.0
    };
    let cores: Vec<String> = run
        .cpu
        .cores_busy_pct
        .iter()
        .map(|p| format!("{p:.0}%"))
        .collect();
    println!(
        "[{label}] {name}: sent {} (errors {}), delivered {delivered}/{expected}, lost {lost}, duplicates {duplicates}, strays {strays}",
        run.sent, run.errors
    );
    println!(
        "[{label}]   {rate:.0} msgs/s over {:.2} s (first send to last receive); latency ms p50 {p50:.1} p90 {p90:.1} p99 {p99:.1} max {max:.1}",
        run.active_secs
    );
    println!(
        "[{label}]   CPU: server {:.2} s ({per_delivery_us:.1} µs/delivery), client {:.2} s; cores busy {}",
        run.cpu.server_secs,
        run.cpu.client_secs,
        cores.join(" / ")
    );
    json!({
        "phase": key,
        "name": name,
        "sent": run.sent,
        "send_errors": run.errors,
        "expected": expected,
        "delivered": delivered,
        "lost": lost,
        "duplicates": duplicates,
        "strays": strays,
        "active_secs": run.active_secs,
        "msgs_per_sec": rate,
        "p50_ms": p50, "p90_ms": p90, "p99_ms": p99, "max_ms": max,
        "latency_us_counts": phase.latency_counts(),
        "server_cpu_secs": run.cpu.server_secs,
        "server_us_per_delivery": per_delivery_us,
        "client_cpu_secs": run.cpu.client_secs,
        "cores_busy_pct": run.cpu.cores_busy_pct,
    })
}

/// A small deterministic generator for picking recipients (same sequence per run).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
