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

use crate::helpers::{TestApp, error_of, spawn_app_with};

const SECRET: &str = "a-product-secret-of-more-than-32-characters";

/// One server-sent event.
#[derive(Debug)]
struct SseEvent {
    id: Option<i64>,
    event: String,
    data: Value,
}

/// Reads events off a streaming response.
struct EventReader {
    response: reqwest::Response,
    buffer: String,
}

impl EventReader {
    async fn open(app: &TestApp, token: &str, last_event_id: Option<i64>) -> Self {
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
    async fn next(&mut self) -> SseEvent {
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
                    return SseEvent { id, event, data };
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("an event within 10 s")
                .unwrap()
                .expect("the stream stays open");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next `message` event's id, skipping `unread` events.
    async fn next_message(&mut self) -> i64 {
        loop {
            let event = self.next().await;
            if event.event == "message" {
                assert_eq!(event.id, event.data["id"].as_i64(), "id: is the item id");
                return event.id.unwrap();
            }
        }
    }
}

fn token(external_id: &str, exp: i64) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, Mac};
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(json!({ "sub": external_id, "exp": exp }).to_string());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{header}.{payload}.{signature}")
}

async fn subscriber_id(app: &TestApp, external_id: &str) -> i64 {
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
    let app = spawn_app_with(|config| {
        config.auth.subscriber_token_secret = SECRET.to_owned().into();
    })
    .await;
    let admin = app.operator(Role::Admin).await;
    admin
        .ok(Method::PUT, "/v1/subscribers/ana", &json!({}))
        .await;
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
    while seen.len() < 40 {
        seen.push(first.next_message().await);
    }
    drop(first);
    let mut resumed = EventReader::open(&app, &token, seen.last().copied()).await;
    while (seen.len() as i64) < TOTAL {
        seen.push(resumed.next_message().await);
    }
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
