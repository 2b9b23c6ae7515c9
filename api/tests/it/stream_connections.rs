//! How the connections of inbox streams are served. A new connection whose first
//! request is a stream is answered on the socket directly, without hyper's buffers;
//! these tests speak raw HTTP/1.1 to see the difference a client could notice: a
//! stream whose client leaves gives back its place at once, and a head that arrives
//! in pieces, or a stream asked for on a kept-alive connection, is still served. And a
//! client that stops reading is cut off, whoever serves its stream (the direct writer,
//! hyper, a WebSocket), rather than holding it open.

use std::time::Duration;

use chrono::Utc;
use herald_core::inbox::NewItem;
use herald_core::inbox::store::store_batch;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::TestApp;
use crate::inbox_stream::{app_configured, subscriber_id, token};

fn sse_request(app: &TestApp, token: &str) -> String {
    format!(
        "GET /v1/stream/sse?token={token} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        app.addr
    )
}

/// Reads until `needle` has arrived after what was `seen` before; returns all of it.
async fn read_until(tcp: &mut TcpStream, seen: String, needle: &str) -> String {
    let mut seen = seen.into_bytes();
    let mut buffer = [0u8; 1024];
    tokio::time::timeout(Duration::from_secs(10), async {
        while !String::from_utf8_lossy(&seen).contains(needle) {
            let n = tcp.read(&mut buffer).await.unwrap();
            assert!(
                n > 0,
                "closed before {needle:?}: {}",
                String::from_utf8_lossy(&seen)
            );
            seen.extend_from_slice(&buffer[..n]);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {needle:?} in {}", String::from_utf8_lossy(&seen)));
    String::from_utf8(seen).unwrap()
}

/// A stream asked for on a new connection for `token`, and what it answered so far
/// (at least its head).
async fn open(app: &TestApp, token: &str) -> (TcpStream, String) {
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(sse_request(app, token).as_bytes())
        .await
        .unwrap();
    let answer = read_until(&mut tcp, String::new(), "\r\n\r\n").await;
    (tcp, answer)
}

fn status_of(answer: &str) -> &str {
    answer.lines().next().unwrap_or_default()
}

#[tokio::test]
async fn a_stream_whose_client_leaves_gives_back_its_place_at_once() {
    let app = app_configured(&["ana"], |config| {
        config.http.max_streams_per_subscriber = 1;
    })
    .await;
    let ana = token("ana", Utc::now().timestamp() + 600);
    let (mut first, answer) = open(&app, &ana).await;
    assert_eq!(status_of(&answer), "HTTP/1.1 200 OK");
    let events = read_until(&mut first, answer, "event: unread").await;
    assert!(events.contains("transfer-encoding: chunked"), "{events}");
    let (_, refused) = open(&app, &ana).await;
    assert_eq!(status_of(&refused), "HTTP/1.1 429 Too Many Requests");

    // The stream is idle (its next heartbeat is 15 s away) when its client leaves: only
    // reading the socket notices, and the place is free within moments.
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_stream, answer) = open(&app, &ana).await;
        if status_of(&answer) == "HTTP/1.1 200 OK" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the place of a stream whose client left is still taken: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_stream_asked_for_in_pieces_or_after_another_request_is_served() {
    let app = app_configured(&["ana"], |_| {}).await;
    let ana = token("ana", Utc::now().timestamp() + 600);

    // The head in two packets, the second well after the first.
    let request = sse_request(&app, &ana);
    let (start, rest) = request.split_at(20);
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(start.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    tcp.write_all(rest.as_bytes()).await.unwrap();
    let events = read_until(&mut tcp, String::new(), "event: unread").await;
    assert!(events.starts_with("HTTP/1.1 200 OK"), "{events}");

    // A stream on a connection that served another request first.
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    let health = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", app.addr);
    tcp.write_all(health.as_bytes()).await.unwrap();
    let answer = read_until(&mut tcp, String::new(), "ok").await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    tcp.write_all(sse_request(&app, &ana).as_bytes())
        .await
        .unwrap();
    let events = read_until(&mut tcp, String::new(), "event: unread").await;
    assert!(events.starts_with("HTTP/1.1 200 OK"), "{events}");
}

/// A connection to the app whose receive buffer is as small as the kernel allows, so
/// that a client which does not read stops taking data after a few KiB.
async fn small_window(app: &TestApp) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(app.addr).await.unwrap()
}

/// Stores and announces items of 16 KiB for `subscriber` until `total` bytes went out:
/// far more than the socket buffers between the server and a client that reads nothing.
async fn flood(app: &TestApp, subscriber: i64, total: usize) {
    const BODY: usize = 16 * 1024;
    for n in 0..total / BODY {
        let item = NewItem {
            subscriber_id: subscriber,
            delivery_id: 1_000 + n as i64,
            category: "news".into(),
            title: format!("item {n}"),
            body: "x".repeat(BODY),
            data: json!({}),
        };
        let stored = store_batch(&app.db, vec![item], Utc::now()).await.unwrap();
        app.bus.stored(&stored);
    }
}

/// An app where ana may hold one stream and a write may wait two ping intervals (2 s);
/// with her subscriber id and a token.
async fn one_stream_for_ana() -> (TestApp, i64, String) {
    let app = app_configured(&["ana"], |config| {
        config.http.max_streams_per_subscriber = 1;
        config.http.stream_ping_secs = 1;
    })
    .await;
    let ana_id = subscriber_id(&app, "ana").await;
    (app, ana_id, token("ana", Utc::now().timestamp() + 600))
}

/// Floods ana while `stuck`, her stream whose client reads nothing more, keeps its
/// connection open; then opens SSE streams until one is let in (the stuck one gave
/// back its place), failing with `why` after 30 s.
async fn place_given_back<T>(app: &TestApp, ana_id: i64, ana: &str, stuck: T, why: &str) {
    flood(app, ana_id, 8 << 20).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_stream, answer) = open(app, ana).await;
        if status_of(&answer) == "HTTP/1.1 200 OK" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{why}: {answer}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(stuck);
}

/// Asks for an SSE stream on `tcp` and reads until its first event.
async fn ask_for_stream(tcp: &mut TcpStream, app: &TestApp, token: &str, seen: String) {
    tcp.write_all(sse_request(app, token).as_bytes())
        .await
        .unwrap();
    read_until(tcp, seen, "event: unread").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_client_that_stops_reading_is_cut_off_and_gives_back_its_place() {
    let (app, ana_id, ana) = one_stream_for_ana().await;
    let mut stuck = small_window(&app).await;
    ask_for_stream(&mut stuck, &app, &ana, String::new()).await;
    let why = "a stream whose client stopped reading still holds its place";
    place_given_back(&app, ana_id, &ana, stuck, why).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_a_stream_hyper_serves_is_cut_off_too() {
    let (app, ana_id, ana) = one_stream_for_ana().await;
    // Another request first keeps the connection with hyper for the stream.
    let mut stuck = small_window(&app).await;
    let health = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", app.addr);
    stuck.write_all(health.as_bytes()).await.unwrap();
    let answer = read_until(&mut stuck, String::new(), "ok").await;
    ask_for_stream(&mut stuck, &app, &ana, answer).await;
    let why = "a stream hyper serves to a client that stopped reading still holds its place";
    place_given_back(&app, ana_id, &ana, stuck, why).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_client_that_stops_reading_is_cut_off_and_gives_back_its_place() {
    let (app, ana_id, ana) = one_stream_for_ana().await;
    let url = format!("ws://{}/v1/stream/ws?token={ana}", app.addr);
    // Upgraded, then never read again.
    let (stuck, _) = tokio_tungstenite::client_async(url, small_window(&app).await)
        .await
        .unwrap();
    let why = "a WebSocket whose client stopped reading still holds its place";
    place_given_back(&app, ana_id, &ana, stuck, why).await;
}
