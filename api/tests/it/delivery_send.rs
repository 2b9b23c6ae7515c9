//! The send step against a real webhook receiver: delivered, retried after a 500 with
//! the same webhook-id, failed at once on a 400, dead when retries run out, and taken
//! back from a worker that claimed deliveries and died.

use std::time::Duration;

use chrono::Utc;
use herald_core::access::Role;
use herald_core::deliveries::backlog::{Backlog, backlog};
use herald_core::deliveries::ledger::slots_taken;
use herald_core::deliveries::{Recorded, claim_due, plan_batch};
use herald_core::entities::{delivery, delivery_attempt, message, subscriber};
use herald_core::rules::engine::{Recipient, RuleSet};
use herald_worker::deliver::Deliverer;
use reqwest::Method;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde_json::{Value, json};

use crate::helpers::receiver::{Answer, Receiver};
use crate::helpers::{
    Session, TestApp, TestWorker, insert_message, spawn_app, spawn_app_with, test_config,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// `/ok` answers 200; `/flaky` 500 the first time it sees a webhook-id, then 200;
/// `/bad` 400; `/gone` 410; `/down` always 500. Returns the receiver's base URL and
/// the receiver (`ids(path)`: the webhook-ids each path saw).
pub(crate) async fn receiver() -> (String, Receiver) {
    let receiver = Receiver::start(|hook, before| match hook.path.as_str() {
        "ok" => Answer::ok(),
        "flaky" if before.iter().any(|b| b.webhook_id() == hook.webhook_id()) => Answer::ok(),
        "bad" => Answer::status(400),
        "gone" => Answer::status(410),
        _ => Answer::status(500),
    })
    .await;
    (receiver.base().to_owned(), receiver)
}

/// A webhook channel instance, a template, and subscribers with a webhook endpoint
/// each. Returns the template id.
pub(crate) async fn setup(
    admin: &Session,
    template: Value,
    subscribers: &[(impl AsRef<str>, String)],
) -> i64 {
    admin
        .ok(
            Method::POST,
            "/v1/channels",
            &json!({ "name": "hooks",
            "settings": { "kind": "webhook", "secret": SECRET, "allow_list": ["127.0.0.0/8"] } }),
        )
        .await;
    let template = admin.ok(Method::POST, "/v1/templates", &template).await;
    for (id, address) in subscribers {
        let id = id.as_ref();
        admin
            .ok(Method::PUT, &format!("/v1/subscribers/{id}"), &json!({}))
            .await;
        admin
            .ok(
                Method::POST,
                &format!("/v1/subscribers/{id}/endpoints"),
                &json!({ "channel": "webhook", "address": address }),
            )
            .await;
    }
    template["template"]["id"].as_i64().unwrap()
}

/// A template named ping with webhook content only.
pub(crate) fn ping(payload: &str) -> Value {
    json!({ "name": "ping", "content": { "webhook": { "payload": payload } } })
}

/// A transactional message on the webhook channel from version 1 of `template_id`.
async fn webhook_message(app: &TestApp, template_id: Option<i64>) -> message::Model {
    insert_message(&app.db, "alerts", template_id, json!(["webhook"])).await
}

/// Plans `message` for every subscriber.
async fn plan_for_everyone(app: &TestApp, message: &message::Model, now: chrono::DateTime<Utc>) {
    let recipients: Vec<Recipient> = subscriber::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(Recipient::from)
        .collect();
    let rules = RuleSet::load(&app.db).await.unwrap();
    plan_batch(&app.db, &rules, message, &recipients, now)
        .await
        .unwrap();
}

async fn status_of(app: &TestApp, external_id: &str) -> (String, i32, Option<String>) {
    let subscriber = subscriber::Entity::find()
        .filter(subscriber::Column::ExternalId.eq(external_id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let row = delivery::Entity::find()
        .filter(delivery::Column::SubscriberId.eq(subscriber.id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    (row.status, row.attempts, row.reason)
}

#[tokio::test]
async fn deliveries_retry_fail_die_and_survive_a_dead_worker() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (base, seen) = receiver().await;
    let template_id = setup(
        &admin,
        ping(r#"{"to": {{ subscriber.external_id }}}"#),
        &[
            ("ok", format!("{base}/ok")),
            ("flaky", format!("{base}/flaky")),
            ("bad", format!("{base}/bad")),
            ("down", format!("{base}/down")),
            ("later", format!("{base}/ok")),
        ],
    )
    .await;
    let message = webhook_message(&app, Some(template_id)).await;
    let now = Utc::now();
    plan_for_everyone(&app, &message, now).await;

    // A worker claims `later`'s delivery and dies before sending it.
    let later_id = subscriber::Entity::find()
        .filter(subscriber::Column::ExternalId.eq("later"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let only_later = delivery::Entity::find()
        .filter(delivery::Column::SubscriberId.eq(later_id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let lease = Duration::from_secs(300);
    // Claim in id order up to `later`, then give the others back untouched.
    let claimed = claim_due(&app.db, now, lease, 5, &Default::default())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 5);
    for row in claimed.into_iter().filter(|d| d.id != only_later.id) {
        let mut active: delivery::ActiveModel = row.into();
        active.status = Set("queued".into());
        active.not_before = Set(None);
        active.attempts = Set(0);
        active.update(&app.db).await.unwrap();
    }

    let mut config = test_config();
    config.delivery.retry_schedule_secs = vec![10];
    let deliverer = Deliverer::new(app.db.clone(), &config).await.unwrap();
    let first = deliverer.run_once(now).await.unwrap();
    assert_eq!(
        (first.delivered, first.retrying, first.failed, first.dead),
        (1, 2, 1, 0),
        "{first:?}"
    );
    assert_eq!(status_of(&app, "ok").await.0, "delivered");
    assert_eq!(
        status_of(&app, "bad").await.0,
        "failed",
        "a 400 is not retried"
    );
    assert!(status_of(&app, "bad").await.2.unwrap().contains("400"));
    assert_eq!(status_of(&app, "flaky").await.0, "queued");
    assert_eq!(
        status_of(&app, "later").await.0,
        "sending",
        "still leased to the dead worker"
    );
    // What the worker's metrics show of it: two retries waiting, one lease held.
    let waits = backlog(&app.db, now).await.unwrap();
    let expected = Backlog {
        waiting: 2,
        sending: 1,
        ..Backlog::default()
    };
    assert_eq!(waits, expected);

    // Not due yet: nothing happens. After the backoff (and the lease): the rest.
    assert_eq!(
        deliverer
            .run_once(now + chrono::Duration::seconds(1))
            .await
            .unwrap(),
        Default::default()
    );
    let second = deliverer
        .run_once(now + chrono::Duration::seconds(400))
        .await
        .unwrap();
    assert_eq!((second.delivered, second.dead), (2, 1), "{second:?}");
    let (status, attempts, _) = status_of(&app, "flaky").await;
    assert_eq!((status.as_str(), attempts), ("delivered", 2));
    assert_eq!(status_of(&app, "down").await.0, "dead");
    assert_eq!(status_of(&app, "later").await.0, "delivered");
    let left = backlog(&app.db, now).await.unwrap();
    let expected = Backlog {
        dead: 1,
        ..Backlog::default()
    };
    assert_eq!(left, expected, "only the dead letter is left");

    let flaky = seen.ids("flaky");
    assert_eq!(flaky.len(), 2);
    assert_eq!(flaky[0], flaky[1], "a retry carries the same webhook-id");
    assert!(flaky[0].starts_with("hd-"));
    assert_eq!(seen.ids("bad").len(), 1);
    assert_eq!(seen.ids("down").len(), 2);
    assert_eq!(seen.ids("ok").len(), 2, "ok and later, once each");
    let attempts = delivery_attempt::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(attempts.len(), 7);

    // The log answers "what happened to flaky's message": one delivery, two attempts.
    let log = admin
        .get_json("/v1/deliveries?subscriber=flaky&channel=webhook")
        .await;
    let entries = log["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!(entries[0]["status"], "delivered");
    let trace = admin
        .get_json(&format!("/v1/deliveries/{}", entries[0]["id"]))
        .await;
    let outcomes: Vec<&str> = trace["attempts_made"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["retryable", "delivered"], "{trace}");
    let failed = admin.get_json("/v1/deliveries?status=failed").await;
    assert_eq!(failed["items"][0]["recipient"], "bad");
    assert!(
        failed["items"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("400")
    );
    assert_eq!(
        admin
            .get_json("/v1/deliveries?status=delivered&limit=2")
            .await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The dead letter is listed with its error, and re-driven: queued afresh, sent
    // again with the same webhook-id, and the re-drive is in the audit log.
    let dead = admin
        .get_json("/v1/dead-letters?channel=webhook&error=500")
        .await;
    let items = dead["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{dead}");
    assert_eq!(items[0]["recipient"], "down");
    assert_eq!(
        admin.get_json("/v1/dead-letters?error=timeout").await["items"],
        json!([])
    );
    let viewer = app.operator(Role::Viewer).await;
    let refused = viewer
        .post("/v1/dead-letters/redrive")
        .json(&json!({ "ids": [1] }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), reqwest::StatusCode::FORBIDDEN);
    let redriven = admin
        .ok(
            Method::POST,
            "/v1/dead-letters/redrive",
            &json!({ "ids": [items[0]["delivery_id"]] }),
        )
        .await;
    assert_eq!(redriven["redriven"], 1);
    assert_eq!(status_of(&app, "down").await.0, "queued");
    deliverer
        .run_once(now + chrono::Duration::seconds(500))
        .await
        .unwrap();
    let ids = seen.ids("down");
    assert_eq!(ids.len(), 3);
    assert_eq!(
        ids[0], ids[2],
        "a re-driven delivery keeps its idempotency key"
    );
    let audit = admin
        .get_json("/v1/audit-log?action=delivery.redrive")
        .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_worker_loop_delivers_what_is_planned_and_stops_on_shutdown() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (base, seen) = receiver().await;
    // The worker is running before any channel is configured: it picks the new
    // instance up for the very first attempt.
    let worker = TestWorker::start(&app.db, test_config());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let template_id = setup(
        &admin,
        ping(r#"{"n": 1}"#),
        &[("ana", format!("{base}/ok"))],
    )
    .await;
    let message = webhook_message(&app, Some(template_id)).await;
    plan_for_everyone(&app, &message, Utc::now()).await;

    // The loop polls; wait (bounded) for the delivery to land.
    let mut status = String::new();
    for _ in 0..100 {
        status = status_of(&app, "ana").await.0;
        if status == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "delivered");
    assert_eq!(
        status_of(&app, "ana").await.1,
        1,
        "delivered at the first attempt"
    );
    assert_eq!(seen.ids("ok").len(), 1);
    worker.stop().await;
}

/// The worker polls only hourly here: only the API's doorbell can make it send.
#[tokio::test]
async fn a_message_sent_through_the_api_wakes_the_worker_of_the_same_process() {
    let hourly = |config: &mut herald_core::config::Config| {
        config.delivery.poll_interval_ms = 3_600_000;
    };
    let app = spawn_app_with(hourly).await;
    let mut config = test_config();
    hourly(&mut config);
    let worker = TestWorker::start_with(
        &app.db,
        config,
        app.doorbell.clone(),
        herald_worker::WorkerMetrics::default(),
    );
    let admin = app.operator(Role::Admin).await;
    let (base, seen) = receiver().await;
    // The loops have made their first (empty) round by the time this is set up.
    let template_id = setup(
        &admin,
        ping(r#"{"n": 1}"#),
        &[("ana", format!("{base}/ok"))],
    )
    .await;
    admin
        .ok(
            Method::POST,
            "/v1/messages",
            &json!({ "recipients": ["ana"], "template_id": template_id,
                     "channels": ["webhook"], "category": "orders" }),
        )
        .await;

    let mut status = String::new();
    for _ in 0..200 {
        status = status_of(&app, "ana").await.0;
        if status == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "delivered", "sent long before the next poll");
    assert_eq!(seen.ids("ok").len(), 1);
    worker.stop().await;
}

#[tokio::test]
async fn deferred_deliveries_are_decided_again_and_expired_ones_end() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (base, seen) = receiver().await;
    let template_id = setup(
        &admin,
        ping(r#"{"n": 1}"#),
        &[("ana", format!("{base}/ok")), ("ben", format!("{base}/ok"))],
    )
    .await;
    // Ana's second device: her delivery, decided for her while it waits, goes to both.
    admin
        .ok(
            Method::POST,
            "/v1/subscribers/ana/endpoints",
            &json!({ "channel": "webhook", "address": format!("{base}/ok?device=2") }),
        )
        .await;
    admin
        .ok(
            Method::POST,
            "/v1/rules",
            &json!({ "name": "nine to ten", "scope": "channel", "scope_value": "webhook",
            "kind": "quiet_hours", "params": { "allowed_from": "09:00", "allowed_until": "10:00",
                                               "default_timezone": "UTC", "action": "defer" } }),
        )
        .await;
    // Tomorrow at noon UTC: outside the window, which opens the day after at 09:00.
    let tomorrow = Utc::now().date_naive() + chrono::Days::new(1);
    let at = tomorrow.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let opens = (tomorrow + chrono::Days::new(1))
        .and_hms_opt(9, 0, 0)
        .unwrap()
        .and_utc();

    let message = webhook_message(&app, Some(template_id)).await;
    let expiring = webhook_message(&app, Some(template_id)).await;
    let mut active: message::ActiveModel = expiring.clone().into();
    active.expires_at = Set(Some(at + chrono::Duration::minutes(30)));
    let expiring = active.update(&app.db).await.unwrap();
    plan_for_everyone(&app, &message, at).await;
    plan_for_everyone(&app, &expiring, at).await;
    let deferred = delivery::Entity::find()
        .filter(delivery::Column::Status.eq("deferred"))
        .filter(delivery::Column::NotBefore.eq(opens))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(deferred.len(), 4, "both messages wait for the window");

    // ben is blocked while his delivery waits.
    admin.block_subscriber("ben").await;

    let deliverer = app.deliverer().await;
    let round = deliverer
        .run_once(at + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        round,
        Recorded {
            expired: 2,
            ..Default::default()
        },
        "only the expired message moves"
    );
    let round = deliverer.run_once(opens).await.unwrap();
    assert_eq!((round.reconsidered, round.delivered), (2, 2), "{round:?}");

    let of = |message_id: i64| {
        let db = app.db.clone();
        async move {
            delivery::Entity::find()
                .filter(delivery::Column::MessageId.eq(message_id))
                .order_by_asc(delivery::Column::Id)
                .all(&db)
                .await
                .unwrap()
                .into_iter()
                .map(|d| (d.status, d.reason))
                .collect::<Vec<_>>()
        }
    };
    let decided = of(message.id).await;
    assert_eq!(decided.len(), 3, "{decided:?}");
    assert_eq!(decided[0], ("delivered".to_owned(), None));
    assert_eq!(decided[1].0, "filtered");
    assert_eq!(
        decided[2],
        ("delivered".to_owned(), None),
        "ana's second device"
    );
    assert!(
        decided[1].1.as_deref().unwrap().contains("asked"),
        "{decided:?}"
    );
    assert!(
        of(expiring.id)
            .await
            .iter()
            .all(|(status, _)| status == "expired")
    );
    let keys = seen.ids("ok");
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1], "each device has its own key");
    assert_eq!(
        slots_taken(&app.db, None, None).await.unwrap(),
        1,
        "one slot, taken when sent"
    );
}

#[tokio::test]
async fn a_gone_endpoint_is_disabled_and_unloadable_content_fails_its_deliveries() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (base, seen) = receiver().await;
    let template_id = setup(
        &admin,
        ping(r#"{"n": 1}"#),
        &[
            ("gone", format!("{base}/gone")),
            ("ok", format!("{base}/ok")),
        ],
    )
    .await;
    let message = webhook_message(&app, Some(template_id)).await;
    plan_for_everyone(&app, &message, Utc::now()).await;
    let deliverer = app.deliverer().await;
    let sent = deliverer.run_once(Utc::now()).await.unwrap();
    assert_eq!((sent.delivered, sent.failed), (1, 1), "{sent:?}");
    assert!(status_of(&app, "gone").await.2.unwrap().contains("410"));
    let endpoints = admin.get_json("/v1/subscribers/gone/endpoints").await;
    assert_eq!(endpoints[0]["enabled"], false, "{endpoints}");
    assert!(
        endpoints[0]["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("410")
    );

    // The next message finds no address for `gone` and is not sent there again.
    let next = webhook_message(&app, Some(template_id)).await;
    plan_for_everyone(&app, &next, Utc::now()).await;
    let rows = delivery::Entity::find()
        .filter(delivery::Column::MessageId.eq(next.id))
        .all(&app.db)
        .await
        .unwrap();
    let filters: Vec<Option<String>> = rows.iter().map(|d| d.filter.clone()).collect();
    assert!(
        filters.contains(&Some("no_address".to_owned())),
        "{filters:?}"
    );
    deliverer.run_once(Utc::now()).await.unwrap();
    assert_eq!(seen.ids("gone").len(), 1);

    // A message whose template version is gone fails its own deliveries at once;
    // the batch's other deliveries still go out.
    let broken = insert_message(&app.db, "alerts", Some(template_id), json!(["webhook"])).await;
    let mut active: message::ActiveModel = broken.clone().into();
    active.template_version = Set(Some(99));
    let broken = active.update(&app.db).await.unwrap();
    plan_for_everyone(&app, &broken, Utc::now()).await;
    let third = webhook_message(&app, Some(template_id)).await;
    plan_for_everyone(&app, &third, Utc::now()).await;
    let round = deliverer.run_once(Utc::now()).await.unwrap();
    assert_eq!((round.delivered, round.failed), (1, 1), "{round:?}");
    let failed = delivery::Entity::find()
        .filter(delivery::Column::MessageId.eq(broken.id))
        .filter(delivery::Column::Status.eq("failed"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(failed.reason.unwrap().contains("template"));
}

/// A receiver that answers every request 429 or 503 with the `Retry-After` that its
/// path names, however absurd.
async fn throttling_receiver() -> String {
    let receiver = Receiver::start(|hook, _| {
        let (status, retry_after) = match hook.path.as_str() {
            "u64-max" => (429, "18446744073709551615"),
            "past-u64" => (429, "99999999999999999999"),
            "millennia" => (503, "99999999999"),
            // 317,000 years: past the end of the calendar.
            "overflow" => (503, "9999999999999"),
            "year-9999" => (503, "Fri, 31 Dec 9999 23:59:59 GMT"),
            "negative" => (429, "-5"),
            _ => (429, "soon, maybe"),
        };
        Answer::status(status).retry_after(retry_after)
    })
    .await;
    receiver.base().to_owned()
}

#[tokio::test]
async fn a_receivers_retry_after_is_honoured_only_up_to_the_longest_scheduled_wait() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let base = throttling_receiver().await;
    let cases = [
        "u64-max",
        "past-u64",
        "millennia",
        "overflow",
        "year-9999",
        "negative",
        "garbage",
    ];
    let subscribers: Vec<(&str, String)> = cases
        .iter()
        .map(|case| (*case, format!("{base}/{case}")))
        .collect();
    let template_id = setup(&admin, ping(r#"{"n": 1}"#), &subscribers).await;
    let message = webhook_message(&app, Some(template_id)).await;
    let now = Utc::now();
    plan_for_everyone(&app, &message, now).await;

    let mut config = test_config();
    config.delivery.retry_schedule_secs = vec![10, 60];
    config.delivery.retry_jitter = 0.0;
    let deliverer = Deliverer::new(app.db.clone(), &config).await.unwrap();
    let round = deliverer.run_once(now).await.unwrap();
    assert_eq!(round.retrying, cases.len() as u64, "{round:?}");
    for row in delivery::Entity::find().all(&app.db).await.unwrap() {
        assert_eq!(row.status, "queued");
        let wait = row.not_before.unwrap() - now;
        assert!(
            (10..=60).contains(&wait.num_seconds()),
            "waits between the first scheduled step and the longest: {wait}"
        );
    }
}
