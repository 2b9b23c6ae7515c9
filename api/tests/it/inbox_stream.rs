//! The SSE transport: a stream resumed with `Last-Event-ID` while a producer keeps
//! storing items gets every item exactly once, in order; reads elsewhere arrive as
//! `read` and `unread` events; tokens are checked as on every inbox route.

use std::time::Duration;

use chrono::Utc;
use herald_core::access::Role;
use herald_core::entities::{inbox_item, subscriber};
use herald_core::inbox::NewItem;
use herald_core::inbox::store::store_batch;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::helpers::{TOKEN_SECRET, TestApp, error_of, sign, spawn_app_with};

/// One server-sent event.
#[derive(Debug)]
pub(crate) struct SseEvent {
    pub(crate) id: Option<i64>,
    pub(crate) event: String,
    pub(crate) data: Value,
}

/// Reads events off a streaming response.
pub(crate) struct EventReader {
    response: reqwest::Response,
    buffer: String,
}

impl EventReader {
    pub(crate) async fn open(app: &TestApp, token: &str, last_event_id: Option<i64>) -> Self {
        let mut request = app
            .anonymous()
            .get(app.url(&format!("/v1/stream/sse?token={token}")));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event with a name (comments and the retry hint are skipped).
    pub(crate) async fn next(&mut self) -> SseEvent {
        self.try_next().await.expect("the stream stays open")
    }

    /// The next event with a name, or `None` when the server ended the stream.
    pub(crate) async fn try_next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, None, String::new());
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("id:") {
                        id = value.trim().parse().ok();
                    } else if let Some(value) = line.strip_prefix("event:") {
                        event = Some(value.trim().to_owned());
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim_start());
                    }
                }
                if let Some(event) = event {
                    let data = serde_json::from_str(&data).unwrap();
                    return Some(SseEvent { id, event, data });
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("an event within 10 s")
                .unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next `message` event's id, skipping `unread` events.
    pub(crate) async fn next_message(&mut self) -> i64 {
        self.try_next_message()
            .await
            .expect("the stream stays open")
    }

    /// The next `message` event's id, or `None` when the server ended the stream.
    pub(crate) async fn try_next_message(&mut self) -> Option<i64> {
        loop {
            let event = self.try_next().await?;
            if event.event == "message" {
                assert_eq!(event.id, event.data["id"].as_i64(), "id: is the item id");
                return event.id;
            }
        }
    }
}

/// A product-signed token for `external_id`, issued now, expiring at `exp`.
pub(crate) fn token(external_id: &str, exp: i64) -> String {
    let iat = Utc::now().timestamp();
    sign(
        &json!({ "sub": external_id, "aud": "herald", "iat": iat, "exp": exp }),
        TOKEN_SECRET,
    )
}

/// An app accepting product-signed tokens, with these subscribers.
pub(crate) async fn app_with(subscribers: &[&str]) -> TestApp {
    app_configured(subscribers, |_| {}).await
}

/// [`app_with`], with the configuration adjusted.
pub(crate) async fn app_configured(
    subscribers: &[&str],
    adjust: impl FnOnce(&mut herald_core::config::Config),
) -> TestApp {
    let app = spawn_app_with(|config| {
        config.auth.subscriber_token_secret = TOKEN_SECRET.to_owned().into();
        adjust(config);
    })
    .await;
    let admin = app.operator(Role::Admin).await;
    for id in subscribers {
        admin
            .ok(Method::PUT, &format!("/v1/subscribers/{id}"), &json!({}))
            .await;
    }
    app
}

pub(crate) async fn subscriber_id(app: &TestApp, external_id: &str) -> i64 {
    subscriber::Entity::find()
        .filter(subscriber::Column::ExternalId.eq(external_id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_stream_misses_nothing_and_repeats_nothing_while_items_arrive() {
    let app = app_with(&["ana"]).await;
    let ana = subscriber_id(&app, "ana").await;
    let token = token("ana", Utc::now().timestamp() + 600);

    const TOTAL: i64 = 150;
    let mut first = EventReader::open(&app, &token, None).await;
    let opening = first.next().await;
    assert_eq!(opening.event, "unread");
    assert_eq!(opening.data, json!({ "count": 0, "version": 0 }));
    let producer = {
        let app_db = app.db.clone();
        let bus = app.bus.clone();
        tokio::spawn(async move {
            let app = ProducerApp { db: app_db, bus };
            app.produce(ana, 1_000, TOTAL).await;
        })
    };

    // Read part of the stream, drop the connection mid-flow, resume from the last id.
    let mut seen = Vec::new();
    let first = read_messages(&app, &token, first, &mut seen, 40).await;
    drop(first);
    let resumed = EventReader::open(&app, &token, seen.last().copied()).await;
    let mut resumed = read_messages(&app, &token, resumed, &mut seen, TOTAL as usize).await;
    producer.await.unwrap();

    let stored: Vec<i64> = inbox_item::Entity::find()
        .filter(inbox_item::Column::SubscriberId.eq(ana))
        .order_by_asc(inbox_item::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(
        seen, stored,
        "every item once, in order, across the reconnect"
    );

    // A read on another connection arrives as `read`, then the new unread pair.
    let response = app
        .anonymous()
        .post(app.url(&format!("/v1/inbox/{}/read", stored[0])))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let read = loop {
        let event = resumed.next().await;
        if event.event == "read" {
            break event;
        }
    };
    assert_eq!(read.data, json!({ "ids": [stored[0]] }));
    let unread = resumed.next().await;
    assert_eq!(unread.event, "unread");
    assert_eq!(unread.data["count"], TOTAL - 1);

    // No token, an expired one, or another secret's: 401 before any stream starts.
    let expired = self::token("ana", Utc::now().timestamp() - 1);
    for url in [
        "/v1/stream/sse".to_owned(),
        format!("/v1/stream/sse?token={expired}"),
        "/v1/stream/sse?token=forged.token.here".to_owned(),
    ] {
        let response = app.anonymous().get(app.url(&url)).send().await.unwrap();
        error_of(response, 401).await;
    }
}

/// Reads `message` ids into `seen` until it holds `until`. The server cuts a stream
/// that falls 16 changes behind (a busy machine can stall a reader that long); the
/// reader then resumes from its last id, as clients do.
async fn read_messages(
    app: &TestApp,
    token: &str,
    mut stream: EventReader,
    seen: &mut Vec<i64>,
    until: usize,
) -> EventReader {
    while seen.len() < until {
        match stream.try_next_message().await {
            Some(id) => seen.push(id),
            None => stream = EventReader::open(app, token, seen.last().copied()).await,
        }
    }
    stream
}

/// Stores items one batch at a time, announcing each on the bus, as a worker does.
struct ProducerApp {
    db: sea_orm::DatabaseConnection,
    bus: herald_core::inbox::Bus,
}

impl ProducerApp {
    async fn produce(&self, subscriber: i64, first_delivery: i64, count: i64) {
        for n in 0..count {
            let item = NewItem {
                subscriber_id: subscriber,
                delivery_id: first_delivery + n,
                category: "news".into(),
                title: format!("item {n}"),
                body: "…".into(),
                data: json!({}),
            };
            let stored = store_batch(&self.db, vec![item], Utc::now()).await.unwrap();
            self.bus.stored(&stored);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_answers_when_an_item_arrives_or_204_at_its_timeout() {
    let app = app_with(&["ana"]).await;
    let ana = subscriber_id(&app, "ana").await;
    let token = token("ana", Utc::now().timestamp() + 600);
    let producer = ProducerApp {
        db: app.db.clone(),
        bus: app.bus.clone(),
    };
    let poll = |after: i64, timeout: u64| {
        app.anonymous()
            .get(app.url(&format!("/v1/inbox/poll?after={after}&timeout={timeout}")))
            .bearer_auth(&token)
            .send()
    };

    // Nothing newer: 204 once the timeout passes.
    let response = poll(0, 1).await.unwrap();
    assert_eq!(response.status().as_u16(), 204);

    // A waiting poll answers as soon as an item is stored (well before its 30 s).
    let waiting = poll(0, 30);
    let (response, ()) = tokio::join!(
        tokio::time::timeout(Duration::from_secs(10), waiting),
        async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            producer.produce(ana, 1, 1).await;
        }
    );
    let response = response.expect("answered early").unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["items"][0]["title"], "item 0");
    assert_eq!(page["unread"]["count"], 1);
    let last = page["items"][0]["id"].as_i64().unwrap();

    // Something already newer than `after`: at once. Nothing newer than the last: 204.
    let response = poll(0, 30).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let response = poll(last, 1).await.unwrap();
    assert_eq!(response.status().as_u16(), 204);

    // Bad input names the field; no token is 401.
    let response = poll(0, 600).await.unwrap();
    assert_eq!(error_of(response, 422).await["field"], "timeout");
    let response = app
        .anonymous()
        .get(app.url("/v1/inbox/poll?after=0"))
        .send()
        .await
        .unwrap();
    error_of(response, 401).await;
}

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) async fn socket(app: &TestApp, token: &str, last_event_id: i64) -> Socket {
    let url = format!(
        "ws://{}/v1/stream/ws?token={token}&last_event_id={last_event_id}",
        app.addr
    );
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The next JSON frame from the server.
pub(crate) async fn frame(socket: &mut Socket) -> Value {
    use futures::StreamExt;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a frame within 10 s")
            .unwrap()
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

async fn send(socket: &mut Socket, frame: Value) {
    use futures::SinkExt;
    socket
        .send(tokio_tungstenite::tungstenite::Message::Text(
            frame.to_string().into(),
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_on_one_websocket_updates_the_subscribers_other_connections() {
    let app = app_with(&["ana"]).await;
    let ana = subscriber_id(&app, "ana").await;
    let token = token("ana", Utc::now().timestamp() + 600);
    ProducerApp {
        db: app.db.clone(),
        bus: app.bus.clone(),
    }
    .produce(ana, 1, 2)
    .await;

    // Two tabs, both resuming from the start: each gets both items, then the pair.
    let mut tabs = [socket(&app, &token, 0).await, socket(&app, &token, 0).await];
    let mut first_id = 0;
    for tab in &mut tabs {
        let one = frame(tab).await;
        assert_eq!(one["event"], "message");
        assert_eq!(one["item"]["title"], "item 0");
        first_id = one["id"].as_i64().unwrap();
        assert_eq!(frame(tab).await["item"]["title"], "item 1");
        assert_eq!(
            frame(tab).await,
            json!({ "event": "unread", "count": 2, "version": 2 })
        );
    }

    // Reading in one tab: both tabs hear which item and the new pair.
    send(&mut tabs[0], json!({ "action": "read", "id": first_id })).await;
    for tab in &mut tabs {
        assert_eq!(
            frame(tab).await,
            json!({ "event": "read", "ids": [first_id] })
        );
        assert_eq!(
            frame(tab).await,
            json!({ "event": "unread", "count": 1, "version": 3 })
        );
    }
    // Read-all, an acknowledgement, a resume and a bad frame.
    send(&mut tabs[1], json!({ "action": "read_all" })).await;
    assert_eq!(
        frame(&mut tabs[0]).await,
        json!({ "event": "read", "ids": [] })
    );
    assert_eq!(frame(&mut tabs[0]).await["count"], 0);
    send(&mut tabs[0], json!({ "action": "resume", "after": 0 })).await;
    assert_eq!(frame(&mut tabs[0]).await["item"]["title"], "item 0");
    assert_eq!(frame(&mut tabs[0]).await["item"]["title"], "item 1");
    assert_eq!(frame(&mut tabs[0]).await["event"], "unread");
    send(&mut tabs[0], json!({ "action": "fly" })).await;
    assert_eq!(frame(&mut tabs[0]).await["event"], "error");
    send(&mut tabs[0], json!({ "action": "read", "id": 999_999 })).await;
    let error = frame(&mut tabs[0]).await;
    assert_eq!(
        error["event"], "error",
        "another subscriber's or no item: {error}"
    );

    // The upgrade itself needs a valid token.
    let refused = tokio_tungstenite::connect_async(format!("ws://{}/v1/stream/ws", app.addr)).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 401)
        }
        other => panic!("expected 401, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_iframe_stream_posts_each_update_to_the_embedding_origin() {
    let app = app_with(&["ana"]).await;
    let ana = subscriber_id(&app, "ana").await;
    let token = token("ana", Utc::now().timestamp() + 600);
    let url = |origin: &str| {
        app.url(&format!(
            "/v1/stream/iframe?token={token}&origin={origin}&last_event_id=0"
        ))
    };
    let mut response = app
        .anonymous()
        .get(url("https://shop.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    ProducerApp {
        db: app.db.clone(),
        bus: app.bus.clone(),
    }
    .produce(ana, 1, 1)
    .await;
    let mut page = String::new();
    while !page.contains("item 0") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("a chunk within 10 s")
            .unwrap()
            .expect("the document stays open");
        page.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let script = page.lines().find(|line| line.contains("item 0")).unwrap();
    assert!(script.starts_with("<script>parent.postMessage({\"event\":\"message\""));
    assert!(
        script.ends_with(", \"https://shop.example\");</script>"),
        "{script}"
    );

    // The origin must be a bare origin.
    for bad in ["*", "https://shop.example/path", "javascript:alert(1)"] {
        let response = app.anonymous().get(url(bad)).send().await.unwrap();
        assert_eq!(error_of(response, 422).await["field"], "origin", "{bad}");
    }
}

#[tokio::test]
async fn a_subscriber_may_hold_only_so_many_streams() {
    let app = app_configured(&["ana", "ben"], |config| {
        config.http.max_streams_per_subscriber = 2;
    })
    .await;
    let ana = token("ana", Utc::now().timestamp() + 600);
    let _open = [
        EventReader::open(&app, &ana, None).await,
        EventReader::open(&app, &ana, None).await,
    ];
    let third = app
        .anonymous()
        .get(app.url(&format!("/v1/stream/sse?token={ana}")))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(third, 429).await["code"], "too_many_streams");
    // The limit is per subscriber.
    let ben = token("ben", Utc::now().timestamp() + 600);
    EventReader::open(&app, &ben, None).await;
}

#[tokio::test]
async fn a_waiting_long_poll_takes_a_place_among_the_streams() {
    let app = spawn_app_with(|config| {
        config.auth.subscriber_token_secret = TOKEN_SECRET.to_owned().into();
        config.http.max_streams_per_subscriber = 2;
    })
    .await;
    let admin = app.operator(Role::Admin).await;
    admin
        .ok(Method::PUT, "/v1/subscribers/ana", &json!({}))
        .await;
    let ana_id = subscriber::Entity::find()
        .filter(subscriber::Column::ExternalId.eq("ana"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let ana = token("ana", Utc::now().timestamp() + 600);
    let poll = |app: &TestApp| {
        app.anonymous()
            .get(app.url("/v1/inbox/poll?after=0&timeout=60"))
            .bearer_auth(&ana)
            .send()
    };
    let _stream = EventReader::open(&app, &ana, None).await;
    let waiting = tokio::spawn(poll(&app));
    // Wait (bounded) until the poll listens, then the subscriber is at the limit.
    for _ in 0..200 {
        if app.bus.listeners(ana_id) == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(app.bus.listeners(ana_id), 2, "the poll is waiting");
    let refused = poll(&app).await.unwrap();
    assert_eq!(error_of(refused, 429).await["code"], "too_many_streams");
    let refused_stream = app
        .anonymous()
        .get(app.url(&format!("/v1/stream/sse?token={ana}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(refused_stream, 429).await["code"],
        "too_many_streams"
    );
    waiting.abort();
}

/// Reads frames until the server closes the socket, and returns its close code.
async fn close_code(socket: &mut Socket) -> u16 {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("the server closes within 10 s");
        match message {
            Some(Ok(Message::Close(Some(frame)))) => return frame.code.into(),
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_when_its_token_expires_or_is_revoked() {
    let app = app_with(&["ana", "ben"]).await;
    // Expiry: a token with two seconds to live closes its socket then (code 4001).
    let short = token("ana", Utc::now().timestamp() + 2);
    let mut expiring = socket(&app, &short, 0).await;
    assert_eq!(close_code(&mut expiring).await, 4001);
    // Revocation ends every open stream of the subscriber, and no one else's.
    let ana = token("ana", Utc::now().timestamp() + 600);
    let mut ws = socket(&app, &ana, 0).await;
    let mut sse = EventReader::open(&app, &ana, None).await;
    assert_eq!(sse.next().await.event, "unread");
    let mut ben = EventReader::open(&app, &token("ben", Utc::now().timestamp() + 600), None).await;
    assert_eq!(ben.next().await.event, "unread");
    let key = app.api_key(&["subscribers:write"]).await;
    let response = app
        .anonymous()
        .delete(app.url("/v1/subscribers/ana/tokens"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(close_code(&mut ws).await, 4001);
    assert!(sse.try_next().await.is_none(), "the SSE stream ended");
    // Ben's stream still carries his items.
    let ben_id = subscriber_id(&app, "ben").await;
    let producer = ProducerApp {
        db: app.db.clone(),
        bus: app.bus.clone(),
    };
    producer.produce(ben_id, 1, 1).await;
    assert!(ben.next_message().await > 0);
}

/// A WebSocket opened by hand over TCP: the handshake, then whatever the server sends,
/// never answered (no pong for a ping).
async fn deaf_socket(app: &TestApp, token: &str) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let request = format!(
        "GET /v1/stream/ws?token={token} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
        app.addr
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(
            tcp.read(&mut byte).await.unwrap(),
            1,
            "the handshake ended early"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    tcp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_client_that_stops_answering_pings_is_dropped() {
    use tokio::io::AsyncReadExt;
    let app = app_configured(&["ana", "ben"], |config| {
        config.http.stream_ping_secs = 1;
        config.http.max_streams_per_subscriber = 1;
    })
    .await;

    // A client that answers pings (tungstenite does while it reads) stays, across
    // several intervals.
    let ben = token("ben", Utc::now().timestamp() + 600);
    let mut alive = socket(&app, &ben, 0).await;
    let mut pings = 0;
    let until = tokio::time::Instant::now() + Duration::from_millis(3_500);
    while let Ok(next) = tokio::time::timeout_at(until, futures::StreamExt::next(&mut alive)).await
    {
        match next {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Ping(_))) => pings += 1,
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(_))) => {}
            other => panic!("a client that answers pings was dropped: {other:?}"),
        }
    }
    assert!(pings >= 2, "pinged {pings} times in three intervals");

    // One that reads but never answers is pinged, then cut off.
    let ana = token("ana", Utc::now().timestamp() + 600);
    let mut deaf = deaf_socket(&app, &ana).await;
    let mut received = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(30), async {
        let mut buffer = [0u8; 256];
        loop {
            match deaf.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "a client that never answers pings stays connected"
    );
    // A ping frame: FIN + opcode 9.
    assert!(received.contains(&0x89), "no ping was sent: {received:?}");
    // Its place among the subscriber's streams is free again.
    socket(&app, &ana, 0).await;
}

/// `/metrics` counts the inbox streams open on the node by transport, and a stream
/// that closes is counted out.
#[tokio::test]
async fn open_streams_are_counted_by_transport_while_they_last() {
    let app = app_with(&["ana"]).await;
    let ana = token("ana", Utc::now().timestamp() + 600);
    let open = |transport: &'static str| {
        let app = &app;
        async move {
            let metrics = app
                .anonymous()
                .get(format!("http://{}/metrics", app.metrics_addr))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let series = format!("herald_inbox_streams_open{{transport=\"{transport}\"}} ");
            metrics
                .lines()
                .find_map(|line| line.strip_prefix(&series))
                .map_or(0, |value| value.trim().parse::<i64>().unwrap())
        }
    };
    let _sse = EventReader::open(&app, &ana, None).await;
    let mut socket = socket(&app, &ana, 0).await;
    frame(&mut socket).await;
    assert_eq!((open("sse").await, open("websocket").await), (1, 1));

    futures::SinkExt::close(&mut socket).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while open("websocket").await != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the closed socket is still counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(open("sse").await, 1);
}
