//! The cross-channel fatigue budget: at most so many sends per subscriber per window,
//! in total and per channel, with priority classes: a lower class never holds back a
//! higher one, and what is over budget waits for the next window, saying why. Exact
//! with several workers planning at once.

use herald_core::access::Role;
use herald_core::deliveries::ledger::slots_taken;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::helpers::{Session, TestApp, TestWorker, error_of, spawn_app, test_config};

/// Two a day in total, one a day on the webhook channel; `security` is the highest
/// class, `alerts` the next, everything else below.
fn budget(max: u32, per_channel: Value) -> Value {
    json!({ "name": "Fatigue", "scope": "global", "kind": "fatigue_budget",
        "params": { "max": max, "window": "day", "per_channel": per_channel,
            "classes": [
                { "name": "transactional", "categories": ["security"] },
                { "name": "alert", "categories": ["alerts"] },
            ] } })
}

async fn send(app: &TestApp, key: &str, category: &str, channels: Value) -> i64 {
    let answer = app
        .anonymous()
        .post(app.url("/v1/messages"))
        .bearer_auth(key)
        .json(
            &json!({ "recipients": ["ana"], "channels": channels, "category": category,
            "content": { "inbox": { "title": category },
                "webhook": { "payload": "{\"n\": 1}" } } }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 202);
    answer.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

/// The statuses of a message's deliveries, by channel.
async fn statuses(admin: &Session, message_id: i64) -> Vec<(String, String, Option<String>)> {
    let log = admin
        .get_json(&format!("/v1/deliveries?message_id={message_id}"))
        .await;
    let mut found: Vec<(String, String, Option<String>)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["channel"].as_str().unwrap().to_owned(),
                d["status"].as_str().unwrap().to_owned(),
                d["reason"].as_str().map(str::to_owned),
            )
        })
        .collect();
    found.sort();
    found
}

fn status_of(found: &[(String, String, Option<String>)], channel: &str) -> String {
    found
        .iter()
        .find(|(c, _, _)| c == channel)
        .map(|(_, status, _)| status.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_lower_class_never_holds_back_a_higher_one_and_what_is_over_budget_waits_saying_why() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    admin
        .ok(
            Method::PUT,
            "/v1/subscribers/ana",
            &json!({ "timezone": "Europe/Berlin" }),
        )
        .await;
    let rule = admin
        .ok(Method::POST, "/v1/rules", &budget(2, json!([])))
        .await;
    let key = app.api_key(&["messages:send"]).await;
    let inbox = json!(["inbox"]);

    // Two marketing sends use the budget; the third waits for tomorrow.
    for _ in 0..2 {
        let id = send(&app, &key, "news", inbox.clone()).await;
        assert_eq!(status_of(&statuses(&admin, id).await, "inbox"), "delivered");
    }
    let third = send(&app, &key, "news", inbox.clone()).await;
    let found = statuses(&admin, third).await;
    assert_eq!(status_of(&found, "inbox"), "deferred");
    let reason = found[0].2.clone().unwrap();
    assert!(
        reason
            .starts_with("deferred by budget `Fatigue`: 2 of 2 other and higher sends today used"),
        "{reason}"
    );
    let log = admin
        .get_json(&format!("/v1/deliveries?message_id={third}"))
        .await;
    let delivery = &log["items"][0];
    assert_eq!(delivery["rule_id"], rule["id"]);
    let trace = admin
        .get_json(&format!("/v1/deliveries/{}", delivery["id"]))
        .await;
    assert_eq!(trace["reason"].as_str(), Some(reason.as_str()), "{trace}");
    let tomorrow = chrono::DateTime::parse_from_rfc3339(delivery["not_before"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono_tz::Europe::Berlin);
    assert_eq!(
        tomorrow.time(),
        chrono::NaiveTime::MIN,
        "the next local midnight"
    );

    // Marketing's sends do not count against alerts, nor alerts' against security.
    let alert = send(&app, &key, "alerts", inbox.clone()).await;
    assert_eq!(
        status_of(&statuses(&admin, alert).await, "inbox"),
        "delivered"
    );
    for _ in 0..2 {
        let id = send(&app, &key, "security", inbox.clone()).await;
        assert_eq!(status_of(&statuses(&admin, id).await, "inbox"), "delivered");
    }
    // Security's own budget is spent now, and an alert counts the security sends too.
    let security = send(&app, &key, "security", inbox.clone()).await;
    let found = statuses(&admin, security).await;
    assert_eq!(status_of(&found, "inbox"), "deferred");
    assert!(
        found[0]
            .2
            .as_deref()
            .unwrap()
            .contains("2 of 2 transactional (the highest class)"),
        "{found:?}"
    );
    let alert = send(&app, &key, "alerts", inbox).await;
    assert_eq!(
        status_of(&statuses(&admin, alert).await, "inbox"),
        "deferred"
    );

    // A campaign's simulation shows the budget deferring, and why.
    let template = admin
        .ok(
            Method::POST,
            "/v1/templates",
            &json!({ "name": "promo", "content": { "inbox": { "title": "Sale" } } }),
        )
        .await;
    let audience = admin
        .ok(
            Method::POST,
            "/v1/audiences",
            &json!({ "name": "all", "kind": "all" }),
        )
        .await;
    let campaign = admin
        .ok(
            Method::POST,
            "/v1/campaigns",
            &json!({ "name": "promo", "audience_id": audience["id"], "category": "news",
                "template_id": template["template"]["id"], "channels": ["inbox"],
                "schedule": { "kind": "now" } }),
        )
        .await;
    let simulation = admin
        .ok(
            Method::POST,
            &format!("/v1/campaigns/{}/simulate", campaign["id"]),
            &json!({}),
        )
        .await;
    assert_eq!(
        simulation["deferred_by"][0]["rule_name"], "Fatigue",
        "{simulation}"
    );
    assert_eq!(simulation["deferred_by"][0]["count"], 1);
    let sampled = &simulation["sample"][0];
    assert_eq!(sampled["decision"], "deferred", "{simulation}");
    assert!(
        sampled["reason"]
            .as_str()
            .unwrap()
            .starts_with("deferred by budget")
    );
}

#[tokio::test]
async fn a_channel_budget_holds_inside_the_total_and_bad_budgets_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    admin
        .ok(Method::PUT, "/v1/subscribers/ana", &json!({}))
        .await;
    // No worker runs: the webhook deliveries wait queued once allowed.
    admin
        .ok(
            Method::POST,
            "/v1/subscribers/ana/endpoints",
            &json!({ "channel": "webhook", "address": "http://127.0.0.1:9/hook" }),
        )
        .await;
    for (body, field) in [
        (budget(0, json!([])), "params.max"),
        (
            json!({ "name": "f", "scope": "global", "kind": "fatigue_budget",
                "params": { "max": 3, "window": "rolling" } }),
            "params.window",
        ),
        // An unknown channel is refused where the body is read, naming it.
        (budget(3, json!([{ "channel": "fax", "max": 1 }])), "body"),
        (
            json!({ "name": "f", "scope": "global", "kind": "fatigue_budget",
                "params": { "max": 3, "window": "day",
                    "classes": [{ "name": "", "categories": ["a"] }] } }),
            "params.classes[0].name",
        ),
    ] {
        let response = admin.post("/v1/rules").json(&body).send().await.unwrap();
        let error = error_of(response, 422).await;
        assert!(
            error["field"].as_str().unwrap().starts_with(field),
            "{body}: {error}"
        );
    }
    admin
        .ok(
            Method::POST,
            "/v1/rules",
            &budget(3, json!([{ "channel": "inbox", "max": 1 }])),
        )
        .await;
    let key = app.api_key(&["messages:send"]).await;
    // The first message takes the inbox budget, the second waits on the inbox only,
    // and the total stops the third's webhook.
    let both = json!(["inbox", "webhook"]);
    let first = statuses(&admin, send(&app, &key, "news", both.clone()).await).await;
    assert_eq!(status_of(&first, "inbox"), "delivered");
    assert_eq!(status_of(&first, "webhook"), "queued");
    let second = statuses(&admin, send(&app, &key, "news", both.clone()).await).await;
    assert_eq!(status_of(&second, "inbox"), "deferred", "{second:?}");
    assert_eq!(status_of(&second, "webhook"), "queued", "{second:?}");
    assert!(
        second
            .iter()
            .any(|(_, _, r)| r.as_deref().is_some_and(|r| r.contains("1 of 1 on inbox")))
    );
    let third = statuses(&admin, send(&app, &key, "news", both).await).await;
    assert_eq!(status_of(&third, "webhook"), "deferred", "{third:?}");
}

#[tokio::test]
async fn a_higher_class_send_puts_off_a_queued_lower_one_and_gives_its_slot_back() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    admin
        .ok(Method::PUT, "/v1/subscribers/ana", &json!({}))
        .await;
    // No worker runs: allowed webhook sends wait queued, holding their budget slots.
    admin
        .ok(
            Method::POST,
            "/v1/subscribers/ana/endpoints",
            &json!({ "channel": "webhook", "address": "http://127.0.0.1:9/hook" }),
        )
        .await;
    let rule = admin
        .ok(Method::POST, "/v1/rules", &budget(1, json!([])))
        .await;
    let key = app.api_key(&["messages:send"]).await;
    let webhook = json!(["webhook"]);

    let news = send(&app, &key, "news", webhook.clone()).await;
    assert_eq!(
        status_of(&statuses(&admin, news).await, "webhook"),
        "queued"
    );
    // The alert is allowed (a lower class never holds it back) and takes the news
    // send's place: the budget stays one a day.
    let alert = send(&app, &key, "alerts", webhook.clone()).await;
    assert_eq!(
        status_of(&statuses(&admin, alert).await, "webhook"),
        "queued"
    );
    let log = admin
        .get_json(&format!("/v1/deliveries?message_id={news}"))
        .await;
    let put_off = &log["items"][0];
    assert_eq!(put_off["status"], "deferred", "{log}");
    assert_eq!(put_off["rule_id"], rule["id"]);
    assert_eq!(
        put_off["reason"],
        "deferred by budget `Fatigue`: made room for a higher-class send (alert)"
    );
    let until = chrono::DateTime::parse_from_rfc3339(put_off["not_before"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(
        until.time(),
        chrono::NaiveTime::MIN,
        "the next midnight (UTC)"
    );
    assert!(until > chrono::Utc::now());
    let slots_of = |message: i64| slots_taken(&app.db, Some(message), None);
    assert_eq!(slots_of(news).await.unwrap(), 0, "the slot is given back");
    assert_eq!(slots_of(alert).await.unwrap(), 1);

    // The slot went back with it: only the alert counts now. A second alert is over
    // budget (nothing lower is left to put off); a security send still goes, and puts
    // off the alert it outranks.
    let second = send(&app, &key, "alerts", webhook.clone()).await;
    assert_eq!(
        status_of(&statuses(&admin, second).await, "webhook"),
        "deferred"
    );
    let security = send(&app, &key, "security", webhook).await;
    assert_eq!(
        status_of(&statuses(&admin, security).await, "webhook"),
        "queued"
    );
    let alert = statuses(&admin, alert).await;
    assert_eq!(status_of(&alert, "webhook"), "deferred");
    assert_eq!(
        alert[0].2.as_deref(),
        Some("deferred by budget `Fatigue`: made room for a higher-class send (transactional)")
    );
}

#[tokio::test]
async fn a_higher_class_send_to_some_subscribers_leaves_the_others_queued_sends_alone() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    for name in ["ana", "ben", "cleo"] {
        admin
            .ok(Method::PUT, &format!("/v1/subscribers/{name}"), &json!({}))
            .await;
        admin
            .ok(
                Method::POST,
                &format!("/v1/subscribers/{name}/endpoints"),
                &json!({ "channel": "webhook", "address": "http://127.0.0.1:9/hook" }),
            )
            .await;
    }
    admin
        .ok(Method::POST, "/v1/rules", &budget(1, json!([])))
        .await;
    let key = app.api_key(&["messages:send"]).await;
    let to = |recipients: Value, category: &str| {
        app.anonymous()
            .post(app.url("/v1/messages"))
            .bearer_auth(&key)
            .json(&json!({ "recipients": recipients, "channels": ["webhook"],
                "category": category, "content": { "webhook": { "payload": "{}" } } }))
            .send()
    };
    let news = to(json!(["ana", "ben", "cleo"]), "news").await.unwrap();
    let news = news.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    // Ana and Cleo, not Ben (whose id lies between theirs): only theirs make room.
    let alert = to(json!(["ana", "cleo"]), "alerts").await.unwrap();
    assert_eq!(alert.status().as_u16(), 202);
    let log = admin
        .get_json(&format!("/v1/deliveries?message_id={news}"))
        .await;
    let mut found: Vec<(String, String)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let who = d["recipient"].as_str().unwrap().to_owned();
            (who, d["status"].as_str().unwrap().to_owned())
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("ana".to_owned(), "deferred".to_owned()),
            ("ben".to_owned(), "queued".to_owned()),
            ("cleo".to_owned(), "deferred".to_owned()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_planning_two_campaigns_at_once_keep_the_budget_exact() {
    const SUBSCRIBERS: usize = 40;
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    for i in 0..SUBSCRIBERS {
        admin
            .ok(Method::PUT, &format!("/v1/subscribers/s{i}"), &json!({}))
            .await;
    }
    admin
        .ok(Method::POST, "/v1/rules", &budget(1, json!([])))
        .await;
    let template = admin
        .ok(
            Method::POST,
            "/v1/templates",
            &json!({ "name": "hello", "content": { "inbox": { "title": "Hello" } } }),
        )
        .await;
    let template_id = template["template"]["id"].as_i64().unwrap();
    let workers: Vec<TestWorker> = (0..2)
        .map(|_| {
            let mut config = test_config();
            config.delivery.poll_interval_ms = 50;
            config.delivery.batch_size = 7;
            TestWorker::start(&app.db, config)
        })
        .collect();
    let mut campaigns = Vec::new();
    for _ in 0..2 {
        campaigns.push(
            crate::campaign_run::scheduled_campaign_on(
                &app,
                &admin,
                template_id,
                json!({ "kind": "now" }),
                json!(["inbox"]),
            )
            .await,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let decided = loop {
        let mut decided: HashMap<String, Vec<String>> = HashMap::new();
        for campaign in &campaigns {
            let log = admin
                .get_json(&format!("/v1/deliveries?campaign_id={campaign}&limit=500"))
                .await;
            for d in log["items"].as_array().unwrap() {
                decided
                    .entry(d["recipient"].as_str().unwrap().to_owned())
                    .or_default()
                    .push(d["status"].as_str().unwrap().to_owned());
            }
        }
        if decided.values().map(Vec::len).sum::<usize>() == 2 * SUBSCRIBERS {
            break decided;
        }
        assert!(Instant::now() < deadline, "{decided:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for worker in workers {
        worker.stop().await;
    }
    assert_eq!(decided.len(), SUBSCRIBERS);
    for (subscriber, mut statuses) in decided {
        statuses.sort();
        assert_eq!(statuses, ["deferred", "delivered"], "{subscriber}");
    }
}
