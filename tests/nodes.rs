//! Herald as several processes on one Postgres database: a message stored by one
//! process reaches the subscriber's streams on two separate `herald api` processes
//! from memory (the inbox relay over LISTEN/NOTIFY, or over NATS when configured); and
//! SIGTERM closes open streams so the process can stop.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

// The channels tests' webhook receiver, which the helpers use as `support::receiver`.
#[path = "../channels/tests/it/support/receiver.rs"]
pub mod receiver;
mod support {
    pub use super::receiver;
}
#[allow(dead_code, unused_imports)] // the API tests' harness; these tests use part of it
#[path = "../api/tests/it/helpers/mod.rs"]
mod helpers;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use herald_core::access::Role;
use reqwest::Method;
use serde_json::json;

use helpers::{free_port, read_until, spawn_app};

/// A `herald` process on the test's database, killed when dropped. Its log goes to a
/// file a failing test can show.
struct Process(Child, tempfile::NamedTempFile);

impl Process {
    fn log(&self) -> String {
        std::fs::read_to_string(self.1.path()).unwrap_or_default()
    }

    /// Sends SIGTERM, as systemd or a container runtime stops a process.
    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// How the process exited, once it has within `limit` (`what` names the wait in
    /// the failure, with the process's log).
    async fn exit_within(&mut self, limit: Duration, what: &str) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(exit) = self.0.try_wait().unwrap() {
                return exit;
            }
            assert!(
                Instant::now() < deadline,
                "{what}; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn herald(command: &str, database_url: &str, port: u16) -> Process {
    herald_with(command, database_url, port, &[])
}

/// `herald command` with the test's settings, then `env` (which may override them).
fn herald_with(command: &str, database_url: &str, port: u16, env: &[(&str, &str)]) -> Process {
    let log = tempfile::NamedTempFile::new().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg(command)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HERALD_DATABASE_URL", database_url)
        .env("HERALD_SECRETS__KEY", helpers::TEST_SEALING_KEY)
        .env(
            "HERALD_CHANNELS__ALLOWED_PRIVATE_DESTINATIONS",
            serde_json::to_string(&helpers::TEST_ALLOWED_DESTINATIONS).unwrap(),
        )
        .env("HERALD_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "HERALD_AUTH__SUBSCRIBER_TOKEN_SECRET",
            helpers::TOKEN_SECRET,
        )
        .env("HERALD_LOG__FILTER", "error")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    Process(child, log)
}

/// Waits until `process` answers `/healthz` on `port`; fails with its log if it exits
/// or takes a minute.
async fn wait_until_healthy(process: &mut Process, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .is_err()
    {
        if let Some(exit) = process.0.try_wait().unwrap() {
            panic!(
                "herald exited with {exit} before serving; its log:\n{}",
                process.log()
            );
        }
        assert!(
            Instant::now() < deadline,
            "herald did not start; its log:\n{}",
            process.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_to_one_api_process_reaches_streams_on_both() {
    if !helpers::backend_is_postgres() {
        eprintln!("several processes share Postgres (HERALD_TEST_BACKEND=postgres)");
        return;
    }
    // No bus configured: the processes relay through Postgres (LISTEN/NOTIFY).
    message_reaches_streams_on_two_api_processes(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_nats_a_message_reaches_streams_on_two_api_processes() {
    if !helpers::backend_is_postgres() {
        eprintln!("several processes share Postgres (HERALD_TEST_BACKEND=postgres)");
        return;
    }
    // A subject of this test's own: other test runs may share the NATS server.
    let subject = format!("herald-test.{}", uuid::Uuid::new_v4().simple());
    let nats = async_nats::connect(NATS_URL)
        .await
        .expect("the NATS server of this machine kind runs on 127.0.0.1:4222");
    let mut notices = nats.subscribe(subject.clone()).await.unwrap();
    let bus = [
        ("HERALD_BUS__NATS_URL", NATS_URL),
        ("HERALD_BUS__NATS_SUBJECT", subject.as_str()),
    ];
    message_reaches_streams_on_two_api_processes(&bus).await;
    // The item went through NATS, inside the notice.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let notice =
            tokio::time::timeout_at(deadline.into(), futures::StreamExt::next(&mut notices))
                .await
                .expect("no notice with the item was published to the subject")
                .unwrap();
        if std::str::from_utf8(&notice.payload)
            .unwrap()
            .contains("Across nodes")
        {
            break;
        }
    }
}

/// A send queued by one `herald api` process rings the `herald worker` process
/// (`herald_work`): the worker polls hourly here, so only the ring makes it try the
/// webhook within seconds. The webhook points at a port nothing listens on, so the try
/// is seen as the delivery's first failed attempt, waiting for its retry, and in the
/// worker's metrics on its own listener (which also answers the health probes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_accepted_by_an_api_process_rings_the_worker_process() {
    if !helpers::backend_is_postgres() {
        eprintln!("several processes share Postgres (HERALD_TEST_BACKEND=postgres)");
        return;
    }
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    admin
        .ok(
            Method::POST,
            "/v1/channels",
            &json!({ "name": "hooks", "settings": { "kind": "webhook",
                "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "allow_list": ["127.0.0.0/8"] } }),
        )
        .await;
    admin
        .ok(Method::PUT, "/v1/subscribers/ana", &json!({}))
        .await;
    let closed = format!("http://127.0.0.1:{}/hook", free_port());
    admin
        .ok(
            Method::POST,
            "/v1/subscribers/ana/endpoints",
            &json!({ "channel": "webhook", "address": closed }),
        )
        .await;

    let port = free_port();
    let mut api = herald("api", app.database_url(), port);
    // The worker's own listener: probes and metrics.
    let probes = format!("127.0.0.1:{}", free_port());
    let worker_env = [
        ("HERALD_DELIVERY__POLL_INTERVAL_MS", "3600000"),
        ("HERALD_METRICS__LISTEN", probes.as_str()),
    ];
    let _worker = herald_with("worker", app.database_url(), free_port(), &worker_env);
    wait_until_healthy(&mut api, port).await;
    for probe in ["healthz", "readyz"] {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match reqwest::get(format!("http://{probes}/{probe}")).await {
                Ok(answer) if answer.status().is_success() => break,
                other => assert!(Instant::now() < deadline, "{probe}: {other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // The worker's first round (at start) finds nothing; give it time to be waiting.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let key = app.api_key(&["messages:send"]).await;
    let accepted: serde_json::Value = app
        .anonymous()
        .post(format!("http://127.0.0.1:{port}/v1/messages"))
        .bearer_auth(&key)
        .json(
            &json!({ "recipients": ["ana"], "channels": ["webhook"], "category": "news",
            "content": { "webhook": { "payload": "{\"hello\": 1}" } } }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let report = format!("http://127.0.0.1:{port}/v1/messages/{}", accepted["id"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status: serde_json::Value = app
            .anonymous()
            .get(&report)
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // A claim counts the attempt before the send; the failure's reason is recorded
        // after it (and after the worker's metrics counted it).
        let delivery = &status["deliveries"][0];
        if delivery["attempts"].as_i64().unwrap_or(0) >= 1 && delivery["reason"].is_string() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the worker was not rung: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The worker counted the failed try.
    let metrics = metrics_of(&probes).await;
    assert!(
        metrics
            .contains(r#"herald_delivery_attempts_total{channel="webhook",outcome="retryable"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"herald_delivery_send_seconds_count{channel="webhook",instance="hooks"} 1"#
        ),
        "{metrics}"
    );
    // And, at its next look at the backlog, the delivery waiting for its retry.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = metrics_of(&probes).await;
        if metrics.contains(r#"herald_delivery_backlog{state="waiting"} 1"#) {
            assert!(metrics.contains("herald_dead_letters 0"), "{metrics}");
            assert!(
                metrics.contains("herald_db_pool_max_connections "),
                "{metrics}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What a worker's listener at `address` serves on `/metrics`.
async fn metrics_of(address: &str) -> String {
    reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

const NATS_URL: &str = "nats://127.0.0.1:4222";

/// Two `herald api` processes with `bus` in their environment: a subscriber streaming
/// from both gets a message sent through the first (which stores its inbox item) on
/// both, from memory: no stream reads it from the database.
async fn message_reaches_streams_on_two_api_processes(bus: &[(&str, &str)]) {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    admin
        .ok(Method::PUT, "/v1/subscribers/ana", &json!({}))
        .await;
    let template = admin
        .ok(
            Method::POST,
            "/v1/templates",
            &json!({ "name": "ping", "content": { "inbox": {
                "title": "Across nodes", "body": "hello" } } }),
        )
        .await;

    let ports = [free_port(), free_port()];
    let api_env = [bus, &[("HERALD_METRICS__TOKEN", METRICS_TOKEN)]].concat();
    let mut apis: Vec<Process> = ports
        .iter()
        .map(|port| herald_with("api", app.database_url(), *port, &api_env))
        .collect();
    for (api, port) in apis.iter_mut().zip(ports) {
        wait_until_healthy(api, port).await;
    }

    // The subscriber is connected to both API processes.
    let token = helpers::subscriber_token("ana");
    let mut streams = Vec::new();
    for port in ports {
        let response = reqwest::get(format!(
            "http://127.0.0.1:{port}/v1/stream/sse?token={token}"
        ))
        .await
        .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        streams.push(response);
    }
    // Each stream has caught up (its first unread event, read from the database) before
    // the message is sent, so the message can only reach it through the bus.
    for stream in &mut streams {
        read_until(stream, &["event: unread"]).await;
    }

    // Sent through the first API process, as a product service would.
    send_to_ana_and_read(&app, ports[0], &template, &mut streams, "Across nodes").await;

    // Each process sent the item from the signal that announced it, not from a read.
    for port in ports {
        let metrics = app
            .anonymous()
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let streamed = |source: &str| {
            let series = format!("herald_inbox_stream_items_total{{source=\"{source}\"}} ");
            metrics
                .lines()
                .find_map(|line| line.strip_prefix(&series))
                .map_or(0, |value| value.trim().parse::<u64>().unwrap())
        };
        assert_eq!(streamed("memory"), 1, "port {port}:\n{metrics}");
        assert_eq!(streamed("database"), 0, "port {port}:\n{metrics}");
        // The second process timed the notice that brought the item across.
        let relayed = metrics
            .lines()
            .find_map(|line| line.strip_prefix("herald_inbox_relay_lag_seconds_count "))
            .map_or(0, |value| value.trim().parse::<u64>().unwrap());
        if port == ports[1] {
            assert!(relayed >= 1, "port {port}:\n{metrics}");
        }
    }
}

const METRICS_TOKEN: &str = "metrics-token-for-the-nodes-test";

/// Sends `template` to ana's inbox through the API on `port`, as a product service
/// would, and waits until every one of `streams` shows `title`.
async fn send_to_ana_and_read(
    app: &helpers::TestApp,
    port: u16,
    template: &serde_json::Value,
    streams: &mut [reqwest::Response],
    title: &str,
) {
    let key = app.api_key(&["messages:send"]).await;
    let response = app
        .anonymous()
        .post(format!("http://127.0.0.1:{port}/v1/messages"))
        .bearer_auth(&key)
        .json(
            &json!({ "recipients": ["ana"], "template_id": template["template"]["id"],
            "channels": ["inbox"], "category": "news" }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let needles = [title];
    let waits: Vec<_> = streams
        .iter_mut()
        .map(|stream| read_until(stream, &needles))
        .collect();
    futures::future::join_all(waits).await;
}

/// With `http.reuse_port`, two `herald api` processes listen on one port: the kernel
/// spreads streams across both, a message sent through the port reaches every stream
/// on either, and when one process stops the other goes on serving the port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_processes_sharing_a_port_split_the_streams_and_outlive_each_other() {
    if !helpers::backend_is_postgres() {
        eprintln!("processes sharing a port share Postgres (HERALD_TEST_BACKEND=postgres)");
        return;
    }
    const STREAMS: usize = 16;
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    admin
        .ok(Method::PUT, "/v1/subscribers/ana", &json!({}))
        .await;
    let template = admin
        .ok(
            Method::POST,
            "/v1/templates",
            &json!({ "name": "ping", "content": { "inbox": {
                "title": "One port", "body": "hello" } } }),
        )
        .await;

    let port = free_port();
    let metrics = [
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    ];
    let mut apis: Vec<Process> = metrics
        .iter()
        .map(|listen| {
            let env = [
                ("HERALD_HTTP__REUSE_PORT", "true"),
                ("HERALD_HTTP__MAX_STREAMS_PER_SUBSCRIBER", "100"),
                ("HERALD_METRICS__LISTEN", listen.as_str()),
            ];
            herald_with("api", app.database_url(), port, &env)
        })
        .collect();
    for listen in &metrics {
        wait_until_serving(listen).await;
    }

    // Each stream is a new connection to the shared port.
    let token = helpers::subscriber_token("ana");
    let mut streams = Vec::new();
    for _ in 0..STREAMS {
        let mut response = reqwest::get(format!(
            "http://127.0.0.1:{port}/v1/stream/sse?token={token}"
        ))
        .await
        .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        read_until(&mut response, &["event: unread"]).await;
        streams.push(response);
    }
    let mut held = Vec::new();
    for listen in &metrics {
        held.push(gauge(
            &metrics_of(listen).await,
            "herald_inbox_streams_open",
        ));
    }
    assert_eq!(held.iter().sum::<u64>(), STREAMS as u64, "{held:?}");
    // Each new connection goes to either with even odds: all 16 on one is 1 in 32,768.
    assert!(held.iter().all(|&open| open > 0), "{held:?}");

    send_to_ana_and_read(&app, port, &template, &mut streams, "One port").await;

    // One process stops; the port is the other's alone.
    apis[0].terminate();
    apis[0]
        .exit_within(Duration::from_secs(30), "the first process did not stop")
        .await;
    for _ in 0..STREAMS {
        let health = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .unwrap();
        assert!(health.status().is_success());
    }
    assert!(apis[1].0.try_wait().unwrap().is_none(), "{}", apis[1].log());
}

/// Waits until the metrics listener at `address` answers: its process is up.
async fn wait_until_serving(address: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::get(format!("http://{address}/metrics"))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "nothing serves {address}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A gauge in a metrics page, summed over its labels.
fn gauge(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .filter_map(|line| line.strip_prefix(name))
        .filter(|rest| rest.starts_with(['{', ' ']))
        .filter_map(|rest| rest.rsplit(' ').next())
        .map(|value| value.trim().parse::<f64>().unwrap() as u64)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_open_streams_and_the_process() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    admin
        .ok(Method::PUT, "/v1/subscribers/ana", &json!({}))
        .await;
    let port = free_port();
    let env = [
        ("HERALD_METRICS__TOKEN", METRICS_TOKEN),
        ("HERALD_LOG__FILTER", "info"),
    ];
    let mut serve = herald_with("serve", app.database_url(), port, &env);
    wait_until_healthy(&mut serve, port).await;
    // One `/metrics` for the API and the worker of the process.
    let metrics = app
        .anonymous()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for family in ["herald_http_requests", "herald_deliveries_held"] {
        assert!(
            metrics.contains(&format!("# TYPE {family} counter")),
            "{metrics}"
        );
    }

    let token = helpers::subscriber_token("ana");
    let mut stream = reqwest::get(format!(
        "http://127.0.0.1:{port}/v1/stream/sse?token={token}"
    ))
    .await
    .unwrap();
    let mut received = String::new();
    while !received.contains("event: unread") {
        let chunk = stream.chunk().await.unwrap().expect("the stream is open");
        received.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(
        received.starts_with("retry: "),
        "a retry hint first: {received}"
    );

    // A client connected that has not sent a request yet is closed at the stop, not
    // waited for.
    let _silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    serve.terminate();
    // The stream ends (the client would reconnect after the hint) and so does Herald.
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(
        ended.is_ok(),
        "the stream did not end on SIGTERM; herald's log:\n{}",
        serve.log()
    );
    let exit = serve
        .exit_within(
            Duration::from_secs(20),
            "herald did not stop with a stream open",
        )
        .await;
    assert!(
        exit.success(),
        "herald exited with {exit}:\n{}",
        serve.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_that_hangs_ends_after_the_grace_period() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app().await;
    let port = free_port();
    let env = [
        ("HERALD_SHUTDOWN_GRACE_SECS", "1"),
        ("HERALD_LOG__FILTER", "info"),
    ];
    let mut serve = herald_with("serve", app.database_url(), port, &env);
    wait_until_healthy(&mut serve, port).await;
    // A request whose body never arrives keeps the server busy until its 30 s
    // request timeout: far past the grace period.
    let mut upload = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    upload
        .write_all(
            b"POST /v1/auth/login HTTP/1.1\r\nHost: herald\r\n\
              Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"username\"",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    serve.terminate();
    let exit = serve
        .exit_within(
            Duration::from_secs(15),
            "herald waited for the upload past its grace period",
        )
        .await;
    let log = serve.log();
    assert!(
        !exit.success(),
        "an unfinished stop is an error exit:\n{log}"
    );
    assert!(log.contains("shutdown_grace_secs"), "{log}");
    drop(upload);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_reaches_a_worker_process_and_its_release_loses_nothing() {
    use helpers::receiver::{Answer, Receiver};

    if !helpers::backend_is_postgres() {
        eprintln!("several processes share Postgres (HERALD_TEST_BACKEND=postgres)");
        return;
    }
    const RECIPIENTS: usize = 40;
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    // Slow answers, one at a time: the send is still under way when it is stopped.
    let receiver = Receiver::start(|_, _| Answer::ok().after(Duration::from_millis(150))).await;
    admin
        .ok(
            Method::POST,
            "/v1/channels",
            &json!({ "name": "hooks", "settings": { "kind": "webhook",
                "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "allow_list": ["127.0.0.0/8"] } }),
        )
        .await;
    let mut recipients = Vec::new();
    for i in 0..RECIPIENTS {
        let id = format!("s{i}");
        admin
            .ok(Method::PUT, &format!("/v1/subscribers/{id}"), &json!({}))
            .await;
        admin
            .ok(
                Method::POST,
                &format!("/v1/subscribers/{id}/endpoints"),
                &json!({ "channel": "webhook", "address": receiver.url("hook") }),
            )
            .await;
        recipients.push(id);
    }
    let worker_env = [
        ("HERALD_DELIVERY__CONCURRENCY", "1"),
        ("HERALD_DELIVERY__BATCHES_IN_FLIGHT", "1"),
    ];
    let worker = herald_with("worker", app.database_url(), free_port(), &worker_env);
    let key = app.api_key(&["messages:send"]).await;
    let accepted = app
        .anonymous()
        .post(app.url("/v1/messages"))
        .bearer_auth(&key)
        .json(
            &json!({ "recipients": recipients, "channels": ["webhook"], "category": "news",
            "content": { "webhook": { "payload": "{\"hello\": 1}" } } }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status().as_u16(), 202);
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.count() < 3 {
        assert!(
            Instant::now() < deadline,
            "the worker never sent; its log:\n{}",
            worker.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Stopped through another process: the worker hears it over Postgres.
    let stop = admin
        .ok(
            Method::POST,
            "/v1/halts",
            &json!({ "scope": "all", "reason": "drill" }),
        )
        .await;
    let mut sent = receiver.count();
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_millis(1500) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if receiver.count() != sent {
            (sent, quiet_since) = (receiver.count(), Instant::now());
        }
        assert!(Instant::now() < deadline, "sending never stopped");
    }
    assert!(
        sent < RECIPIENTS,
        "stopped only after everything was sent ({sent})"
    );

    admin
        .ok(
            Method::DELETE,
            &format!("/v1/halts/{}", stop["id"]),
            &json!({}),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.count() < RECIPIENTS {
        assert!(
            Instant::now() < deadline,
            "{} of {RECIPIENTS} after the release; the worker's log:\n{}",
            receiver.count(),
            worker.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut ids = receiver.ids("hook");
    ids.sort();
    ids.dedup();
    assert_eq!(
        (receiver.count(), ids.len()),
        (RECIPIENTS, RECIPIENTS),
        "each sent once"
    );
}
