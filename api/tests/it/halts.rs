//! The kill switch: a stop holds exactly what it names (all sending, one channel
//! instance, one campaign), sends under way finish, nothing is lost, and releasing it
//! sends what waited, each once.

use std::time::{Duration, Instant};

use chrono::Utc;
use herald_core::access::Role;
use herald_core::deliveries::Doorbell;
use herald_core::entities::delivery;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::campaign_run::{scheduled_campaign_on, scheduled_campaign_with};
use crate::delivery_send::ping;
use crate::helpers::receiver::{Answer, Receiver};
use crate::helpers::{
    Session, TestApp, TestWorker, error_of, spawn_app, test_config, webhook_channel,
};
use crate::support::smtp::SmtpServer;

const RECIPIENTS: usize = 60;

async fn stop(admin: &Session, body: Value) -> Value {
    admin.ok(Method::POST, "/v1/halts", &body).await
}

async fn release(admin: &Session, stop: &Value) {
    let path = format!("/v1/halts/{}", stop["id"]);
    admin.ok(Method::DELETE, &path, &json!({})).await;
}

async fn count_with_status(app: &TestApp, status: &str) -> u64 {
    delivery::Entity::find()
        .filter(delivery::Column::Status.eq(status))
        .count(&app.db)
        .await
        .unwrap()
}

/// Waits until `count` stops changing for `quiet`, and returns it.
async fn settled(count: impl Fn() -> usize, quiet: Duration) -> usize {
    let mut last = count();
    let mut since = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = count();
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() >= quiet {
            return now;
        }
        assert!(Instant::now() < deadline, "never settled");
    }
}

/// The worker's metrics as `/metrics` shows them.
fn metrics_text(metrics: &herald_worker::WorkerMetrics) -> String {
    let mut registry = prometheus_client::registry::Registry::with_prefix("herald");
    metrics.register(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_all_sending_stops_a_running_campaign_midway_and_loses_nothing() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    // Each answer takes a moment, so the campaign is still sending when it is stopped.
    let receiver = Receiver::start(|_, _| Answer::ok().after(Duration::from_millis(100))).await;
    webhook_channel(&admin).await;
    let template = admin
        .ok(Method::POST, "/v1/templates", &ping(r#"{"n": 1}"#))
        .await;
    let template_id = template["template"]["id"].as_i64().unwrap();
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
    }

    let mut config = test_config();
    config.delivery.concurrency = 2;
    config.delivery.poll_interval_ms = 100;
    config.delivery.heartbeat_secs = 1;
    let metrics = herald_worker::WorkerMetrics::default();
    let worker = TestWorker::start_with(&app.db, config, Doorbell::default(), metrics.clone());
    scheduled_campaign_on(
        &app,
        &admin,
        template_id,
        json!({ "kind": "now" }),
        json!(["webhook"]),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.count() < 5 {
        assert!(Instant::now() < deadline, "the campaign never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let everything = stop(
        &admin,
        json!({ "scope": "all", "reason": "provider incident" }),
    )
    .await;
    assert_eq!(everything["scope"], "all");
    assert_eq!(everything["reason"], "provider incident");
    // A transactional send while stopped is accepted and waits.
    let key = app.api_key(&["messages:send"]).await;
    let accepted = app
        .anonymous()
        .post(app.url("/v1/messages"))
        .bearer_auth(&key)
        .json(
            &json!({ "recipients": ["s0"], "channels": ["webhook"], "category": "orders",
            "template_id": template_id }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status().as_u16(), 202);

    let sent_while_stopping = settled(|| receiver.count(), Duration::from_millis(1500)).await;
    assert!(
        sent_while_stopping < RECIPIENTS,
        "the stop came after the campaign ended ({sent_while_stopping} sent)"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        receiver.count(),
        sent_while_stopping,
        "nothing starts while stopped"
    );
    let stopped_midway = delivery::Entity::find()
        .filter(delivery::Column::Status.eq("queued"))
        .all(&app.db)
        .await
        .unwrap();
    assert!(
        stopped_midway.iter().any(|d| d
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("kill switch (all sending): provider incident"))),
        "sends of the page under way were handed back with the stop's reason"
    );
    assert_eq!(
        admin.get_json("/v1/halts").await.as_array().unwrap().len(),
        1
    );
    // The worker's metrics say so (the stops at its next heartbeat).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = metrics_text(&metrics);
        if text.contains(r#"herald_sending_stops{scope="all"} 1"#) {
            assert!(
                !text.contains("herald_deliveries_stopped_total 0"),
                "{text}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    release(&admin, &everything).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while count_with_status(&app, "delivered").await < RECIPIENTS as u64 + 1 {
        assert!(
            Instant::now() < deadline,
            "what the stop held never went out"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut ids = receiver.ids("hook");
    assert_eq!(ids.len(), RECIPIENTS + 1, "each delivery sent once");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), RECIPIENTS + 1, "no delivery sent twice");
    assert!(
        admin
            .get_json("/v1/halts")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );

    let audit = admin.get_json("/v1/audit-log?target_kind=halt").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["sending.release", "sending.halt"], "{audit}");
    worker.stop().await;
}

#[tokio::test]
async fn a_stop_holds_only_the_channel_instance_or_campaign_it_names() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (a, b) = (SmtpServer::start().await, SmtpServer::start().await);
    for (name, server) in [("a-mail", &a), ("b-mail", &b)] {
        admin
            .ok(
                Method::POST,
                "/v1/channels",
                &json!({ "name": name, "settings": { "kind": "smtp", "host": "127.0.0.1",
                    "port": server.addr.port(), "security": "plain" } }),
            )
            .await;
    }
    admin
        .ok(
            Method::PUT,
            "/v1/subscribers/reader",
            &json!({ "email": "reader@example.com" }),
        )
        .await;
    let template = admin
        .ok(
            Method::POST,
            "/v1/templates",
            &json!({ "name": "note", "content": { "email": { "subject": "Hi", "text": "Hello." } } }),
        )
        .await;
    let template_id = template["template"]["id"].as_i64().unwrap();
    let key = app.api_key(&["messages:send"]).await;
    let send = |instances: Value| {
        let request = app
            .anonymous()
            .post(app.url("/v1/messages"))
            .bearer_auth(&key)
            .json(
                &json!({ "recipients": ["reader"], "channels": ["email"], "category": "orders",
                "template_id": template_id, "instances": instances }),
            );
        async move { assert_eq!(request.send().await.unwrap().status().as_u16(), 202) }
    };
    let deliverer = app.deliverer().await;

    // b-mail is stopped: what chose it waits unclaimed, the default (a-mail) sends.
    let b_stop = stop(
        &admin,
        json!({ "scope": "channel", "channel": "b-mail", "reason": "bouncing" }),
    )
    .await;
    assert_eq!(b_stop["channel"], "b-mail");
    send(json!(["b-mail"])).await;
    send(json!([])).await;
    for _ in 0..2 {
        deliverer.run_once(Utc::now()).await.unwrap();
    }
    assert_eq!((a.mail_count(), b.mail_count()), (1, 0));
    let waiting = delivery::Entity::find()
        .filter(delivery::Column::Status.eq("queued"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(
        waiting[0].attempts, 0,
        "never claimed while its instance is stopped"
    );

    // A stopped campaign waits whole, while other sends go on.
    let campaign = scheduled_campaign_with(
        &app,
        &admin,
        json!({ "template_id": template_id, "channels": ["email"], "schedule": { "kind": "now" } }),
    )
    .await;
    let campaign_stop = stop(
        &admin,
        json!({ "scope": "campaign", "campaign_id": campaign, "reason": "wrong price" }),
    )
    .await;
    assert_eq!(campaign_stop["campaign_name"], "launch");
    // Stopping it again finds the same stop.
    let again = admin
        .post("/v1/halts")
        .json(&json!({ "scope": "campaign", "campaign_id": campaign, "reason": "twice" }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(
        (again["id"].clone(), again["reason"].clone()),
        (campaign_stop["id"].clone(), json!("wrong price"))
    );
    send(json!([])).await;
    for _ in 0..2 {
        deliverer.run_once(Utc::now()).await.unwrap();
    }
    assert_eq!(
        (a.mail_count(), b.mail_count()),
        (2, 0),
        "the campaign sent nothing"
    );
    let status = admin.get_json(&format!("/v1/campaigns/{campaign}")).await;
    assert_eq!(status["status"], "running");

    release(&admin, &b_stop).await;
    release(&admin, &campaign_stop).await;
    for _ in 0..3 {
        deliverer.run_once(Utc::now()).await.unwrap();
    }
    assert_eq!(
        (a.mail_count(), b.mail_count()),
        (3, 1),
        "each waiting send went once"
    );
    assert_eq!(count_with_status(&app, "delivered").await, 4);
    let status = admin.get_json(&format!("/v1/campaigns/{campaign}")).await;
    assert_eq!(status["status"], "completed");
}

#[tokio::test]
async fn the_kill_switch_names_the_bad_field_and_is_for_admins_and_reviewers() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    for (body, field) in [
        (json!({ "scope": "channel", "reason": "x" }), "channel"),
        (
            json!({ "scope": "channel", "channel": "nowhere", "reason": "x" }),
            "channel",
        ),
        (json!({ "scope": "campaign", "reason": "x" }), "campaign_id"),
        (
            json!({ "scope": "campaign", "campaign_id": 999, "reason": "x" }),
            "campaign_id",
        ),
        (
            json!({ "scope": "all", "campaign_id": 1, "reason": "x" }),
            "campaign_id",
        ),
        (json!({ "scope": "all", "reason": "  " }), "reason"),
        (json!({ "scope": "everything", "reason": "x" }), "scope"),
    ] {
        let refused = admin.post("/v1/halts").json(&body).send().await.unwrap();
        let error = error_of(refused, 422).await;
        assert_eq!(error["field"], field, "{body}: {error}");
    }
    let missing = admin.delete("/v1/halts/999").send().await.unwrap();
    assert_eq!(error_of(missing, 404).await["code"], "not_found");
    assert!(
        admin
            .get_json("/v1/halts")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );

    let editor = app.operator(Role::Editor).await;
    let refused = editor
        .post("/v1/halts")
        .json(&json!({ "scope": "all", "reason": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(refused, 403).await["code"], "forbidden");
    let reviewer = app.operator(Role::Reviewer).await;
    let stopped = reviewer
        .post("/v1/halts")
        .json(&json!({ "scope": "all", "reason": "complaint spike" }))
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.status().as_u16(), 201);
    let stopped: Value = stopped.json().await.unwrap();
    assert!(!stopped["halted_by"].as_str().unwrap().is_empty());
    let listed = editor.get_json("/v1/halts").await;
    assert_eq!(
        listed[0]["id"], stopped["id"],
        "everyone sees what is stopped"
    );

    // The same stop pressed twice at once: one stop, both answered with it.
    admin
        .ok(
            Method::POST,
            "/v1/channels",
            &json!({ "name": "twice", "settings": { "kind": "webhook",
                "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" } }),
        )
        .await;
    let twice = json!({ "scope": "channel", "channel": "twice", "reason": "x" });
    let (first, second) = tokio::join!(
        admin.post("/v1/halts").json(&twice).send(),
        reviewer.post("/v1/halts").json(&twice).send(),
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    let mut statuses = [first.status().as_u16(), second.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 201]);
    let (first, second): (Value, Value) =
        (first.json().await.unwrap(), second.json().await.unwrap());
    assert_eq!(first["id"], second["id"]);
    assert_eq!(
        admin.get_json("/v1/halts").await.as_array().unwrap().len(),
        2
    );
}
