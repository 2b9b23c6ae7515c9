//! How inbox streams cope with the unusual: a client too slow to read is cut off and
//! resumes without loss; a stream that missed a change finds it in the database; pages
//! on other origins reach the inbox routes only when their origin is allowed.

use std::time::Duration;

use chrono::Utc;
use herald_core::inbox::NewItem;
use herald_core::inbox::store::store_batch;
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TOKEN_SECRET, TestApp, spawn_app_with};
use crate::inbox_stream::{EventReader, app_with, subscriber_id, token};

fn item(subscriber_id: i64, delivery_id: i64, body: String) -> NewItem {
    NewItem {
        subscriber_id,
        delivery_id,
        category: "news".into(),
        title: format!("item {delivery_id}"),
        body,
        data: json!({}),
    }
}

/// Opens an SSE stream over a socket with a tiny receive window, and does not read it.
async fn stalled_stream(app: &TestApp, token: &str) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(app.addr).await.unwrap();
    let request = format!(
        "GET /v1/stream/sse?token={token} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
        app.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

/// The ids of the `message` events a stream sent before the server closed it.
async fn ids_until_closed(mut stream: tokio::net::TcpStream) -> Vec<i64> {
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut received))
        .await
        .expect("the server ends the stream")
        .unwrap();
    String::from_utf8_lossy(&received)
        .lines()
        .filter_map(|line| line.strip_prefix("id:"))
        .map(|id| id.trim().parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_too_slow_to_read_is_cut_off_and_resumes_without_loss() {
    let app = app_with(&["ana"]).await;
    let ana = subscriber_id(&app, "ana").await;
    let token = token("ana", Utc::now().timestamp() + 600);
    let stalled = stalled_stream(&app, &token).await;
    // Let the stream open before anything is stored.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Far more than the socket buffers hold, in far more signals than the bus buffers.
    let body = "x".repeat(50_000);
    let mut stored_ids = Vec::new();
    for delivery in 1..=200 {
        let stored = store_batch(&app.db, vec![item(ana, delivery, body.clone())], Utc::now())
            .await
            .unwrap();
        stored_ids.extend(stored.iter().map(|s| s.item.id));
        app.bus.stored(&stored);
    }

    let before_cut = ids_until_closed(stalled).await;
    assert!(
        before_cut.len() < stored_ids.len(),
        "cut off before the end: got {} of {}",
        before_cut.len(),
        stored_ids.len()
    );
    assert_eq!(
        before_cut,
        stored_ids[..before_cut.len()],
        "in order, no gap"
    );

    // Resuming from the last id it got, the client gets the rest, each once.
    let last = before_cut.last().copied().unwrap_or(0);
    let mut resumed = EventReader::open(&app, &token, Some(last)).await;
    let mut after_cut = Vec::new();
    while after_cut.last() != stored_ids.last() {
        after_cut.push(resumed.next_message().await);
    }
    let all: Vec<i64> = before_cut.into_iter().chain(after_cut).collect();
    assert_eq!(all, stored_ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_missed_a_change_reads_it_from_the_database() {
    let app = app_with(&["ana"]).await;
    let ana = subscriber_id(&app, "ana").await;
    let token = token("ana", Utc::now().timestamp() + 600);
    let mut stream = EventReader::open(&app, &token, None).await;
    let first = stream.next().await;
    assert_eq!(first.event, "unread");
    assert_eq!(first.data["count"], 0);

    // Stored without a signal (as if the signal were lost), then one announced: the
    // announced change skips a version, so the stream looks in the database.
    let unannounced = store_batch(&app.db, vec![item(ana, 1, "a".into())], Utc::now())
        .await
        .unwrap();
    let announced = store_batch(&app.db, vec![item(ana, 2, "b".into())], Utc::now())
        .await
        .unwrap();
    app.bus.stored(&announced);

    assert_eq!(stream.next_message().await, unannounced[0].item.id);
    assert_eq!(stream.next_message().await, announced[0].item.id);
    let unread = stream.next().await;
    assert_eq!(
        (unread.event.as_str(), &unread.data["count"]),
        ("unread", &json!(2))
    );
}

const SHOP: &str = "https://shop.example.com";

#[tokio::test]
async fn only_allowed_origins_reach_the_inbox_routes_across_origins() {
    let app = spawn_app_with(|config| {
        config.auth.subscriber_token_secret = TOKEN_SECRET.to_owned().into();
        config.http.inbox_cors_origins = vec![SHOP.to_owned()];
    })
    .await;
    let admin = app.operator(herald_core::access::Role::Admin).await;
    admin
        .ok(Method::PUT, "/v1/subscribers/ana", &json!({}))
        .await;
    let token = token("ana", Utc::now().timestamp() + 600);
    let client = app.anonymous();
    let preflight = |path: &str, origin: &str| {
        client
            .request(Method::OPTIONS, app.url(path))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
    };
    let allowed_origin = |response: &reqwest::Response| {
        response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };

    let answer = preflight("/v1/inbox", SHOP).send().await.unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    assert_eq!(allowed_origin(&answer).as_deref(), Some(SHOP));
    let allowed_headers = answer.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        allowed_headers.contains("authorization"),
        "{allowed_headers}"
    );

    let count = client
        .get(app.url("/v1/inbox/unread-count"))
        .bearer_auth(&token)
        .header("origin", SHOP)
        .send()
        .await
        .unwrap();
    assert_eq!(count.status().as_u16(), 200);
    assert_eq!(allowed_origin(&count).as_deref(), Some(SHOP));

    // Another origin, or the operator API, gets no CORS grant.
    let other = preflight("/v1/stream/sse", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed_origin(&other), None);
    let operators = preflight("/v1/campaigns", SHOP).send().await.unwrap();
    assert_eq!(allowed_origin(&operators), None);
}

#[tokio::test]
async fn without_allowed_origins_the_inbox_routes_stay_same_origin() {
    let app = app_with(&["ana"]).await;
    let token = token("ana", Utc::now().timestamp() + 600);
    let count = app
        .anonymous()
        .get(app.url("/v1/inbox/unread-count"))
        .bearer_auth(&token)
        .header("origin", SHOP)
        .send()
        .await
        .unwrap();
    assert_eq!(count.status().as_u16(), 200);
    assert!(count.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_everything_over_rest_reaches_the_open_streams() {
    let app = app_with(&["ana"]).await;
    let ana = subscriber_id(&app, "ana").await;
    let token = token("ana", Utc::now().timestamp() + 600);
    let mut stream = EventReader::open(&app, &token, None).await;
    let items = (1..=2).map(|n| item(ana, n, "…".into())).collect();
    let stored = store_batch(&app.db, items, Utc::now()).await.unwrap();
    app.bus.stored(&stored);
    stream.next_message().await;
    stream.next_message().await;

    let answer = app
        .anonymous()
        .post(app.url("/v1/inbox/read-all"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let mut events = Vec::new();
    while events
        .last()
        .is_none_or(|(event, _): &(String, _)| event != "read")
    {
        let event = stream.next().await;
        events.push((event.event, event.data));
    }
    assert_eq!(events.last().unwrap().1, json!({ "ids": [] }), "all read");
    let unread = stream.next().await;
    assert_eq!(
        (unread.event.as_str(), &unread.data["count"]),
        ("unread", &json!(0))
    );
}
