//! How the connections of inbox streams are served. A new connection whose first
//! request is a stream is answered on the socket directly, without hyper's buffers;
//! these tests speak raw HTTP/1.1 to see the difference a client could notice: a
//! stream whose client leaves gives back its place at once, and a head that arrives
//! in pieces, or a stream asked for on a kept-alive connection, is still served.

use std::time::Duration;

use chrono::Utc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::TestApp;
use crate::inbox_stream::{app_configured, token};

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
