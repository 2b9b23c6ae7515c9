//! Delivery events to products: what happened to deliveries reaches the endpoints that
//! asked for it, in batches signed per Standard Webhooks (checked by the reference
//! Python library), retried on the delivery schedule, dead-lettered and re-driven.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use herald_core::access::Role;
use herald_core::config::SecretsConfig;
use herald_core::entities::subscriber;
use herald_core::events::endpoints::reseal_all;
use herald_core::sealing::Sealer;
use herald_core::unsubscribe::LinkSigner;
use herald_worker::events::EventSender;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::receiver::{Answer, Hook, Receiver};
use crate::helpers::standard_webhooks::verify;
use crate::helpers::{TestApp, TestWorker, error_of, test_config, webhook_channel};
use crate::inbox_stream::{app_with, token};

const EVERY_EVENT: [&str; 7] = [
    "delivery.delivered",
    "delivery.failed",
    "delivery.dead_lettered",
    "inbox.read",
    "inbox.dismissed",
    "subscriber.unsubscribed",
    "message.recalled",
];

async fn register(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.anonymous()
        .post(app.url("/v1/event-endpoints"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn registered(app: &TestApp, key: &str, body: Value) -> Value {
    let answer = register(app, key, body).await;
    assert_eq!(answer.status().as_u16(), 201);
    answer.json().await.unwrap()
}

/// A receiver that answers 400 at `/refuses` and 200 everywhere else.
async fn refusing_at_refuses() -> Receiver {
    Receiver::start(|hook, _| {
        if hook.path == "refuses" {
            Answer::status(400)
        } else {
            Answer::ok()
        }
    })
    .await
}

fn user(external_id: &str) -> String {
    token(external_id, Utc::now().timestamp() + 600)
}

/// Every event in the batches sent to `path`, in order.
fn events_at(receiver: &Receiver, path: &str) -> Vec<Value> {
    hooks_at(receiver, path)
        .iter()
        .flat_map(|hook| {
            hook.json()["data"]["events"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

fn hooks_at(receiver: &Receiver, path: &str) -> Vec<Hook> {
    receiver
        .hooks()
        .into_iter()
        .filter(|hook| hook.path == path)
        .collect()
}

fn count_of(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|event| event["type"] == kind).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_gets_the_events_it_asked_for_in_batches_the_reference_library_verifies() {
    let app = app_with(&["ana", "ben", "cy", "dan"]).await;
    let admin = app.operator(Role::Admin).await;
    let receiver = refusing_at_refuses().await;
    webhook_channel(&admin).await;
    for (id, path) in [
        ("ana", "hook"),
        ("ben", "hook"),
        ("cy", "hook"),
        ("dan", "refuses"),
    ] {
        admin
            .ok(
                Method::POST,
                &format!("/v1/subscribers/{id}/endpoints"),
                &json!({ "channel": "webhook", "address": receiver.url(path) }),
            )
            .await;
    }
    let product = app.api_key(&["events:manage", "messages:send"]).await;
    let everything = registered(
        &app,
        &product,
        json!({ "url": receiver.url("events"), "description": "orders service",
            "event_types": EVERY_EVENT }),
    )
    .await;
    let secret = everything["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{everything}");
    assert_eq!(everything["channels"], json!([]), "every channel");
    assert_eq!(everything["enabled"], true);
    let failures = registered(
        &app,
        &product,
        json!({ "url": receiver.url("failures"), "event_types": ["delivery.failed"],
            "channels": ["webhook"] }),
    )
    .await;
    // The secret is shown once: never in the list.
    let listed: Value = app
        .anonymous()
        .get(app.url("/v1/event-endpoints"))
        .bearer_auth(&product)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains(&secret));

    let mut config = test_config();
    config.delivery.poll_interval_ms = 100;
    let worker = TestWorker::start(&app.db, config);
    let sent = app
        .anonymous()
        .post(app.url("/v1/messages"))
        .bearer_auth(&product)
        .json(&json!({ "recipients": ["ana", "ben", "cy", "dan"],
            "channels": ["inbox", "webhook"], "category": "orders",
            "content": { "inbox": { "title": "Shipped" },
                "webhook": { "payload": "{\"order\": 7}" } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status().as_u16(), 202);
    let message_id = sent.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while hooks_at(&receiver, "hook").len() < 3 || hooks_at(&receiver, "refuses").is_empty() {
        assert!(Instant::now() < deadline, "the webhooks never went");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Ana reads her item, Ben puts his away, Cy unsubscribes, then the message is
    // recalled.
    for (who, action) in [("ana", "read"), ("ben", "archive")] {
        let inbox: Value = app
            .anonymous()
            .get(app.url("/v1/inbox"))
            .bearer_auth(user(who))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let item = inbox["items"][0]["id"].as_i64().unwrap();
        let acked = app
            .anonymous()
            .post(app.url(&format!("/v1/inbox/{item}/{action}")))
            .bearer_auth(user(who))
            .send()
            .await
            .unwrap();
        assert!(acked.status().is_success());
    }
    let cy = subscriber::Entity::find()
        .filter(subscriber::Column::ExternalId.eq("cy"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let link = LinkSigner::load(&app.db, &app.url(""))
        .await
        .unwrap()
        .link(cy.id, "orders");
    assert!(
        app.anonymous()
            .post(&link)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let recalled = app
        .anonymous()
        .post(app.url(&format!("/v1/messages/{message_id}/recall")))
        .bearer_auth(&product)
        .send()
        .await
        .unwrap();
    assert_eq!(recalled.status().as_u16(), 200);

    let deadline = Instant::now() + Duration::from_secs(60);
    while count_of(&events_at(&receiver, "events"), "message.recalled") == 0 {
        assert!(
            Instant::now() < deadline,
            "{:#?}",
            events_at(&receiver, "events")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.stop().await;

    let events = events_at(&receiver, "events");
    assert_eq!(
        count_of(&events, "delivery.delivered"),
        7,
        "4 inbox, 3 webhook"
    );
    assert_eq!(count_of(&events, "delivery.failed"), 1);
    assert_eq!(count_of(&events, "delivery.dead_lettered"), 0);
    assert_eq!(count_of(&events, "inbox.read"), 1);
    assert_eq!(count_of(&events, "inbox.dismissed"), 1);
    assert_eq!(count_of(&events, "subscriber.unsubscribed"), 1);
    assert_eq!(count_of(&events, "message.recalled"), 1);
    assert_eq!(events.len(), 12);
    let failed = events
        .iter()
        .find(|event| event["type"] == "delivery.failed")
        .unwrap();
    assert_eq!(failed["data"]["subscriber"], "dan");
    assert_eq!(failed["data"]["channel"], "webhook");
    assert_eq!(failed["data"]["message_id"], message_id);
    assert!(
        failed["data"]["detail"].as_str().unwrap().contains("400"),
        "{failed}"
    );
    let read = events
        .iter()
        .find(|event| event["type"] == "inbox.read")
        .unwrap();
    assert_eq!(read["data"]["subscriber"], "ana");
    assert_eq!(read["data"]["message_id"], message_id);
    let dismissed = events
        .iter()
        .find(|e| e["type"] == "inbox.dismissed")
        .unwrap();
    assert_eq!(dismissed["data"]["subscriber"], "ben");
    let unsubscribed = events
        .iter()
        .find(|e| e["type"] == "subscriber.unsubscribed")
        .unwrap();
    assert_eq!(unsubscribed["data"]["subscriber"], "cy");
    assert_eq!(unsubscribed["data"]["message_id"], Value::Null);
    let recall = events
        .iter()
        .find(|e| e["type"] == "message.recalled")
        .unwrap();
    assert_eq!(recall["data"]["message_id"], message_id);
    assert_eq!(recall["data"]["subscriber"], Value::Null);
    let mut ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), events.len(), "each event has its own id");

    // Batched, each request signed: the reference library verifies every one with the
    // endpoint's secret and reads back exactly the body that was sent.
    let hooks = hooks_at(&receiver, "events");
    assert!(hooks.len() < events.len(), "{} requests", hooks.len());
    let verified = verify(&secret, &hooks);
    for (hook, payload) in hooks.iter().zip(&verified) {
        assert_eq!(payload.as_ref(), Some(&hook.json()), "{:?}", hook.headers);
        assert!(hook.webhook_id().starts_with("evb_"));
        assert_eq!(hook.json()["type"], "event.batch");
    }
    // ...and refuses a body changed after signing, or another endpoint's secret.
    let mut tampered = hooks[0].clone();
    let mut body = tampered.body.to_vec();
    let last = body.len() - 2;
    body[last] = if body[last] == b'1' { b'2' } else { b'1' };
    tampered.body = body.into();
    let failure_hooks = hooks_at(&receiver, "failures");
    assert_eq!(failure_hooks.len(), 1, "only the failed webhook delivery");
    assert_eq!(
        verify(&secret, &[tampered, failure_hooks[0].clone()]),
        [None, None]
    );
    let only_failures = events_at(&receiver, "failures");
    assert_eq!(only_failures.len(), 1);
    assert_eq!(only_failures[0]["type"], "delivery.failed");
    assert_eq!(
        verify(failures["secret"].as_str().unwrap(), &failure_hooks),
        [Some(failure_hooks[0].json())]
    );

    // The endpoint's log holds each batch, delivered once.
    let log: Value = app
        .anonymous()
        .get(app.url(&format!("/v1/event-endpoints/{}/batches", everything["id"])))
        .bearer_auth(&product)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let batches = log["items"].as_array().unwrap();
    assert_eq!(batches.len(), hooks.len());
    assert!(
        batches
            .iter()
            .all(|b| b["status"] == "delivered" && b["attempts"] == 1)
    );
    let logged: i64 = batches
        .iter()
        .map(|b| b["event_count"].as_i64().unwrap())
        .sum();
    assert_eq!(logged, 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_is_retried_under_one_webhook_id_then_dead_lettered_and_redriven() {
    let app = app_with(&["ana"]).await;
    let admin = app.operator(Role::Admin).await;
    // Down until the test says otherwise, then up; a second endpoint is gone for good.
    let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let receiver = Receiver::start({
        let up = std::sync::Arc::clone(&up);
        move |hook, _| match hook.path.as_str() {
            "gone" => Answer::status(410),
            _ if up.load(std::sync::atomic::Ordering::SeqCst) => Answer::ok(),
            _ => Answer::status(503),
        }
    })
    .await;
    let flaky = registered(
        &app,
        &app.api_key(&["events:manage"]).await,
        json!({ "url": receiver.url("flaky"), "event_types": ["delivery.delivered"] }),
    )
    .await;
    let gone = admin
        .ok(
            Method::POST,
            "/v1/event-endpoints",
            &json!({ "url": receiver.url("gone"), "event_types": ["delivery.delivered"] }),
        )
        .await;
    app.anonymous()
        .post(app.url("/v1/messages"))
        .bearer_auth(app.api_key(&["messages:send"]).await)
        .json(
            &json!({ "recipients": ["ana"], "channels": ["inbox"], "category": "orders",
            "content": { "inbox": { "title": "Hi" } } }),
        )
        .send()
        .await
        .unwrap();
    app.deliverer().await.run_once(Utc::now()).await.unwrap();

    // Two tries a second apart, then a dead letter.
    let mut config = test_config();
    config.delivery.retry_schedule_secs = vec![1];
    let sender = EventSender::new(app.db.clone(), &config).unwrap();
    let first = sender.run_once(Utc::now()).await.unwrap();
    assert_eq!(first.gathered, 2);
    assert_eq!((first.sent.retrying, first.sent.dead), (1, 1), "{first:?}");
    let gone_now = admin
        .get_json(&format!("/v1/event-endpoints/{}", gone["id"]))
        .await;
    assert_eq!(gone_now["enabled"], false, "a 410 turns the endpoint off");
    assert!(
        gone_now["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("410")
    );
    let not_yet = sender.run_once(Utc::now()).await.unwrap();
    assert_eq!(
        not_yet.sent,
        Default::default(),
        "the retry waits its backoff"
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let second = sender.run_once(Utc::now()).await.unwrap();
    assert_eq!(second.sent.dead, 1, "{second:?}");
    let path = format!("/v1/event-endpoints/{}/batches?status=dead", flaky["id"]);
    let dead = admin.get_json(&path).await;
    assert_eq!(dead["items"][0]["attempts"], 2);
    assert!(
        dead["items"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("503")
    );

    up.store(true, std::sync::atomic::Ordering::SeqCst);
    let redriven = admin
        .ok(
            Method::POST,
            &format!("/v1/event-endpoints/{}/redrive", flaky["id"]),
            &json!({}),
        )
        .await;
    assert_eq!(redriven["batches"], 1);
    let third = sender.run_once(Utc::now()).await.unwrap();
    assert_eq!(third.sent.delivered, 1);
    let tries = receiver.ids("flaky");
    assert_eq!(tries.len(), 3);
    assert!(tries.iter().all(|id| *id == tries[0]), "{tries:?}");
    let log = admin
        .get_json(&format!("/v1/event-endpoints/{}/batches", flaky["id"]))
        .await;
    // After a key rotation and a reseal, the old key can go: the secret still signs.
    let new_key = STANDARD.encode([9u8; 32]);
    let rotated = Sealer::from_config(
        &SecretsConfig {
            key: new_key.clone().into(),
            previous_keys: vec![crate::helpers::TEST_SEALING_KEY.to_owned().into()],
        },
        &std::env::temp_dir(),
    )
    .unwrap();
    assert_eq!(reseal_all(&app.db, &rotated).await.unwrap(), 2);
    assert_eq!(reseal_all(&app.db, &rotated).await.unwrap(), 0);
    let mut only_new = config.clone();
    only_new.secrets = SecretsConfig {
        key: new_key.into(),
        previous_keys: Vec::new(),
    };
    admin
        .ok(
            Method::POST,
            "/v1/messages",
            &json!({ "recipients": ["ana"], "channels": ["inbox"], "category": "orders",
                "content": { "inbox": { "title": "Again" } } }),
        )
        .await;
    app.deliverer().await.run_once(Utc::now()).await.unwrap();
    let resealed = EventSender::new(app.db.clone(), &only_new)
        .unwrap()
        .run_once(Utc::now())
        .await
        .unwrap();
    assert_eq!(resealed.sent.delivered, 1, "{resealed:?}");
    assert_eq!(log["items"][0]["status"], "delivered");
    assert_eq!(log["items"][0]["last_response"], "200 OK");
    let audit = admin
        .get_json("/v1/audit-log?action=event_endpoint.redrive")
        .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");
}

#[tokio::test]
async fn bad_endpoints_are_refused_naming_the_field_and_only_event_managers_may_register() {
    let app = crate::helpers::spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let key = app.api_key(&["events:manage"]).await;
    let refused = |body: Value, field: &'static str| {
        let (app, key) = (&app, &key);
        async move {
            let error = error_of(register(app, key, body).await, 422).await;
            assert_eq!(error["field"], field, "{error}");
        }
    };
    let kinds = json!(["delivery.delivered"]);
    refused(
        json!({ "url": "ftp://example.com/x", "event_types": kinds }),
        "url",
    )
    .await;
    refused(json!({ "url": "not a url", "event_types": kinds }), "url").await;
    // The server's SSRF policy: only loopback is allowed in tests.
    refused(
        json!({ "url": "http://10.1.2.3/hook", "event_types": kinds }),
        "url",
    )
    .await;
    refused(
        json!({ "url": "https://example.com/hook", "event_types": [] }),
        "event_types",
    )
    .await;
    let unknown = register(
        &app,
        &key,
        json!({ "url": "https://example.com/hook", "event_types": ["delivery.opened"] }),
    )
    .await;
    assert_eq!(unknown.status().as_u16(), 422);
    assert!(
        admin
            .get_json("/v1/event-endpoints")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );

    let sender_only = app.api_key(&["messages:send"]).await;
    let body = json!({ "url": "https://example.com/hook", "event_types": kinds });
    assert_eq!(
        register(&app, &sender_only, body.clone())
            .await
            .status()
            .as_u16(),
        403
    );
    let viewer = app.operator(Role::Viewer).await;
    let answer = viewer
        .request(Method::GET, "/v1/event-endpoints")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 403);

    // Changed and removed, audited.
    let created = registered(&app, &key, body).await;
    let path = format!("/v1/event-endpoints/{}", created["id"]);
    let changed = admin
        .ok(
            Method::PUT,
            &path,
            &json!({ "url": "https://example.com/v2", "event_types": ["inbox.read", "inbox.dismissed"],
                "channels": ["inbox"], "enabled": false }),
        )
        .await;
    assert_eq!(
        changed["event_types"],
        json!(["inbox.dismissed", "inbox.read"])
    );
    assert_eq!(changed["channels"], json!(["inbox"]));
    assert_eq!(changed["enabled"], false);
    admin.ok(Method::DELETE, &path, &json!({})).await;
    assert_eq!(
        admin.get(&path).send().await.unwrap().status().as_u16(),
        404
    );
    let audit = admin
        .get_json("/v1/audit-log?target_kind=event_endpoint")
        .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 3, "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaigns_outcomes_reach_the_product_once_each_with_the_campaign_named() {
    const RECIPIENTS: usize = 40;
    let app = crate::helpers::spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let receiver = refusing_at_refuses().await;
    webhook_channel(&admin).await;
    for i in 0..RECIPIENTS {
        let id = format!("s{i}");
        admin
            .ok(Method::PUT, &format!("/v1/subscribers/{id}"), &json!({}))
            .await;
        let path = if i % 8 == 0 { "refuses" } else { "hook" };
        admin
            .ok(
                Method::POST,
                &format!("/v1/subscribers/{id}/endpoints"),
                &json!({ "channel": "webhook", "address": receiver.url(path) }),
            )
            .await;
    }
    let endpoint = admin
        .ok(
            Method::POST,
            "/v1/event-endpoints",
            &json!({ "url": receiver.url("events"), "channels": ["webhook"],
                "event_types": ["delivery.delivered", "delivery.failed"] }),
        )
        .await;
    let template = admin
        .ok(
            Method::POST,
            "/v1/templates",
            &crate::delivery_send::ping(r#"{"n": 1}"#),
        )
        .await;
    let mut config = test_config();
    config.delivery.poll_interval_ms = 100;
    let worker = TestWorker::start(&app.db, config);
    let campaign = crate::campaign_run::scheduled_campaign_on(
        &app,
        &admin,
        template["template"]["id"].as_i64().unwrap(),
        json!({ "kind": "now" }),
        json!(["webhook"]),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(90);
    while events_at(&receiver, "events").len() < RECIPIENTS {
        assert!(
            Instant::now() < deadline,
            "{} events",
            events_at(&receiver, "events").len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Nothing more comes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    worker.stop().await;

    let events = events_at(&receiver, "events");
    assert_eq!(events.len(), RECIPIENTS);
    assert_eq!(count_of(&events, "delivery.failed"), RECIPIENTS / 8);
    assert_eq!(
        count_of(&events, "delivery.delivered"),
        RECIPIENTS - RECIPIENTS / 8
    );
    let mut recipients: Vec<&str> = events
        .iter()
        .map(|event| event["data"]["subscriber"].as_str().unwrap())
        .collect();
    recipients.sort_unstable();
    recipients.dedup();
    assert_eq!(recipients.len(), RECIPIENTS, "each recipient once");
    assert!(
        events
            .iter()
            .all(|event| event["data"]["campaign_id"] == campaign)
    );
    assert!(
        events
            .iter()
            .all(|event| event["data"]["channel"] == "webhook")
    );
    let secret = endpoint["secret"].as_str().unwrap();
    let hooks = hooks_at(&receiver, "events");
    assert!(verify(secret, &hooks).iter().all(Option::is_some));
}
