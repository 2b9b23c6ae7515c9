//! Adaptive pacing against a receiver that refuses (429) whatever exceeds a set rate:
//! the worker settles near that rate, loses nothing, and the API shows the lane's pace.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use herald_core::access::Role;
use herald_core::entities::delivery;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::campaign_run::scheduled_campaign_on;
use crate::delivery_send::ping;
use crate::helpers::receiver::{Answer, Receiver};
use crate::helpers::{TestWorker, spawn_app, test_config, webhook_channel};

/// Requests accepted per second, at most.
const LIMIT: usize = 40;
const SUBSCRIBERS: usize = 240;

/// Accepts at most [`LIMIT`] requests in any second and answers 429 to the rest.
async fn throttling_receiver() -> (String, Receiver) {
    let receiver = Receiver::start(|hook, before| {
        let accepted_last_second = before
            .iter()
            .rev()
            .take_while(|b| hook.at.duration_since(b.at) < Duration::from_secs(1))
            .filter(|b| b.status == 200)
            .count();
        if accepted_last_second >= LIMIT {
            Answer::status(429)
        } else {
            Answer::ok()
        }
    })
    .await;
    (receiver.url("hook"), receiver)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttling_receiver_gets_a_pace_near_its_rate_and_loses_nothing() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (url, receiver) = throttling_receiver().await;
    webhook_channel(&admin).await;
    let template = admin
        .ok(Method::POST, "/v1/templates", &ping(r#"{"n": 1}"#))
        .await;
    for i in 0..SUBSCRIBERS {
        let id = format!("s{i}");
        admin
            .ok(Method::PUT, &format!("/v1/subscribers/{id}"), &json!({}))
            .await;
        admin
            .ok(
                Method::POST,
                &format!("/v1/subscribers/{id}/endpoints"),
                &json!({ "channel": "webhook", "address": url }),
            )
            .await;
    }

    let mut config = test_config();
    // Refused sends come back after a second; publish the pace every second.
    config.delivery.retry_schedule_secs = vec![1; 30];
    config.delivery.retry_jitter = 0.0;
    config.delivery.heartbeat_secs = 1;
    config.delivery.poll_interval_ms = 100;
    let worker = TestWorker::start(&app.db, config);
    scheduled_campaign_on(
        &app,
        &admin,
        template["template"]["id"].as_i64().unwrap(),
        json!({ "kind": "now" }),
        json!(["webhook"]),
    )
    .await;

    // Bounded: a safety net, not a timing goal.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let delivered = delivery::Entity::find()
            .filter(delivery::Column::Status.eq("delivered"))
            .count(&app.db)
            .await
            .unwrap();
        if delivered == SUBSCRIBERS as u64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{delivered} of {SUBSCRIBERS} delivered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let lanes = loop {
        let lanes: Value = admin.get_json("/v1/pacing").await;
        if lanes.as_array().is_some_and(|l| !l.is_empty()) {
            break lanes;
        }
        assert!(Instant::now() < deadline, "the pace was never published");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    worker.stop().await;

    let hooks = receiver.hooks();
    let refused = hooks.iter().filter(|hook| hook.status == 429).count();
    let mut accepted: HashMap<&str, usize> = HashMap::new();
    for hook in hooks.iter().filter(|hook| hook.status == 200) {
        *accepted.entry(hook.webhook_id()).or_default() += 1;
    }
    eprintln!("refused {refused}; lanes {lanes}");
    assert_eq!(accepted.len(), SUBSCRIBERS, "every subscriber got one");
    assert!(accepted.values().all(|&n| n == 1), "none twice");
    let lane = &lanes[0];
    assert_eq!(
        (lane["instance"].as_str(), lane["host"].as_str()),
        (Some("hooks"), Some("127.0.0.1"))
    );
    assert!(lane["throttled_at"].is_string(), "{lane}");
    let rate = lane["rate_per_sec"].as_f64().unwrap();
    assert!(
        (LIMIT as f64 / 4.0..=LIMIT as f64 * 1.5).contains(&rate),
        "paced near the receiver's {LIMIT}/s: {rate}"
    );
    // Unpaced, every second of the campaign would refuse all but 40 of what is due
    // (hundreds); paced, little beyond the first burst is refused.
    assert!(
        refused < SUBSCRIBERS * 2,
        "{refused} refused for {SUBSCRIBERS} accepted"
    );
}

/// A lane paced below what is due puts off what it cannot send within half the lease:
/// those deliveries wait, unattempted, for the lane's next slots, so no claim outlives
/// its lease; later rounds send them, each once.
#[tokio::test]
async fn what_pacing_cannot_send_within_half_the_lease_waits_unattempted() {
    use chrono::Utc;
    use herald_core::deliveries::plan_batch;
    use herald_core::entities::subscriber;
    use herald_core::rules::engine::{Recipient, RuleSet};
    use herald_worker::deliver::Deliverer;

    use crate::delivery_send::{receiver, setup};
    use crate::helpers::insert_message;

    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (base, seen) = receiver().await;
    let people: Vec<(String, String)> = (0..8)
        .map(|i| (format!("p{i}"), format!("{base}/ok")))
        .collect();
    let template_id = setup(&admin, ping(r#"{"n": 1}"#), &people).await;
    let message = insert_message(&app.db, "alerts", Some(template_id), json!(["webhook"])).await;
    let recipients: Vec<Recipient> = subscriber::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(Recipient::from)
        .collect();
    let rules = RuleSet::load(&app.db).await.unwrap();
    plan_batch(&app.db, &rules, &message, &recipients, Utc::now())
        .await
        .unwrap();

    let mut config = test_config();
    config.delivery.pacing.ceiling_per_sec = 4.0;
    config.delivery.lease_secs = 2;
    let deliverer = Deliverer::new(app.db.clone(), &config).await.unwrap();
    let round = deliverer.run_once(Utc::now()).await.unwrap();
    // Four a second: the slots at 0, 0.25, 0.5 and 0.75 s fit in half the two-second
    // lease (the one at 1 s too, if the round began that very instant).
    assert!((4..=5).contains(&round.delivered), "{round:?}");
    assert_eq!(round.delivered + round.paced, 8, "{round:?}");
    let waiting = delivery::Entity::find()
        .filter(delivery::Column::Status.eq("queued"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(waiting.len() as u64, round.paced);
    for row in &waiting {
        assert_eq!(row.attempts, 0, "put off, not attempted");
        assert!(row.not_before.unwrap() > Utc::now() - chrono::Duration::seconds(1));
        assert!(row.reason.as_deref().unwrap().starts_with("paced"));
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut delivered = round.delivered;
    while delivered < 8 {
        assert!(Instant::now() < deadline, "{delivered} of 8 delivered");
        tokio::time::sleep(Duration::from_millis(300)).await;
        delivered += deliverer.run_once(Utc::now()).await.unwrap().delivered;
    }
    let ids = seen.ids("ok");
    let distinct: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), distinct.len()), (8, 8), "each sent once");
}
