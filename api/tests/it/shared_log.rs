//! The delivery log as exclusions (ADR 0003): a broadcast's delivered recipients have no
//! delivery row, its shared item's bits are their log entries, and those held back keep
//! their rows. Every reader of the log (counts, reports, lists, exports, traces,
//! retention, backtests, page re-runs) sees the same deliveries as with a row each.

use chrono::{Duration, Utc};
use herald_core::access::Role;
use herald_core::entities::{delivery, inbox_item};
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp};
use crate::inbox_stream::app_with;

async fn broadcast(app: &TestApp, key: &str, title: &str, to: &[&str]) -> Value {
    let answer = app
        .anonymous()
        .post(app.url("/v1/messages"))
        .bearer_auth(key)
        .json(
            &json!({ "recipients": to, "channels": ["inbox"], "category": "news",
            "content": { "inbox": { "title": title } } }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 202);
    answer.json().await.unwrap()
}

/// Ana, ben and cy take broadcasts; dee opted out of everything.
async fn four_with_one_opted_out() -> (TestApp, String) {
    let app = app_with(&["ana", "ben", "cy", "dee"]).await;
    let admin = app.operator(Role::Admin).await;
    admin
        .ok(
            Method::PUT,
            "/v1/subscribers/dee/preferences",
            &json!({ "preferences": [{ "channel": "*", "category": "*", "opted_out": true }] }),
        )
        .await;
    let key = app.api_key(&["messages:send"]).await;
    (app, key)
}

/// The shared inbox items, oldest first.
async fn shared_items(app: &TestApp) -> Vec<inbox_item::Model> {
    inbox_item::Entity::find()
        .filter(inbox_item::Column::SubscriberId.is_null())
        .order_by_asc(inbox_item::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

/// Every entry of the log matching `query`, page by page (`limit` each).
async fn whole_log(auditor: &Session, query: &str, limit: usize) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/deliveries?{query}&limit={limit}&cursor={c}"),
            None => format!("/v1/deliveries?{query}&limit={limit}"),
        };
        let page = auditor.get_json(&path).await;
        entries.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return entries,
        }
    }
}

fn statuses(report: &Value) -> Vec<(String, u64)> {
    let mut rows: Vec<(String, u64)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!("{}|{}", r["channel"].as_str().unwrap_or("-"), r["status"]),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn a_broadcast_logs_its_recipients_by_its_item_and_the_held_back_by_rows() {
    let (app, key) = four_with_one_opted_out().await;
    let everyone = ["ana", "ben", "cy", "dee"];
    let accepted = broadcast(&app, &key, "Sale", &everyone).await;
    assert_eq!(
        (accepted["queued"].clone(), accepted["filtered"].clone()),
        (json!(3), json!(1)),
        "the send answer counts the shared entries: {accepted}"
    );
    let message = accepted["id"].as_i64().unwrap();
    let rows = delivery::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(rows.len(), 1, "only the exclusion is a row: {rows:?}");
    assert_eq!(rows[0].status, "filtered");
    let item = shared_items(&app).await.remove(0);
    assert_eq!(item.logged_recipients, 3);

    // A personal message beside it, so lists merge rows and shared entries.
    let personal = broadcast(
        &app,
        &key,
        "Hi {{ subscriber.external_id }}",
        &["ana", "ben"],
    )
    .await;
    assert_eq!(personal["queued"], 2);

    // The sender's report names every recipient, the delivered ones from the item.
    let report = app
        .anonymous()
        .get(app.url(&format!("/v1/messages/{message}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let mut seen: Vec<(String, String)> = report["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["recipient"].as_str().unwrap().to_owned(),
                d["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("ana", "delivered"),
            ("ben", "delivered"),
            ("cy", "delivered"),
            ("dee", "filtered")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );

    // The log, paged two at a time, holds each delivery once, newest first.
    let auditor = app.operator(Role::Viewer).await;
    let log = whole_log(&auditor, "channel=inbox", 2).await;
    let mut named: Vec<(i64, String)> = log
        .iter()
        .map(|e| {
            (
                e["message_id"].as_i64().unwrap(),
                e["recipient"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(named.len(), 6, "{log:#?}");
    let created: Vec<chrono::DateTime<Utc>> = log
        .iter()
        .map(|e| e["created_at"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        created.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {created:?}"
    );
    named.sort();
    named.dedup();
    assert_eq!(named.len(), 6, "each once");
    let shared: Vec<&Value> = log.iter().filter(|e| e["id"].is_null()).collect();
    assert_eq!(shared.len(), 3);
    assert!(
        shared
            .iter()
            .all(|e| e["item_id"] == item.id && e["status"] == "delivered")
    );
    let of_message = whole_log(&auditor, &format!("message_id={message}"), 50).await;
    assert_eq!(of_message.len(), 4);
    let ben = whole_log(&auditor, "subscriber=ben&status=delivered", 50).await;
    assert_eq!(ben.len(), 2, "the broadcast and his own");
    assert!(whole_log(&auditor, "channel=email", 50).await.is_empty());

    // A shared entry's trace; one that is not (dee was held back) is not found.
    let trace = auditor
        .get_json(&format!("/v1/deliveries/shared/{}/cy", item.id))
        .await;
    assert_eq!(trace["recipient"], "cy");
    assert_eq!(trace["attempts_made"][0]["outcome"], "delivered");
    let missing = auditor
        .get(&format!("/v1/deliveries/shared/{}/dee", item.id))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let bad = auditor
        .get(&format!("/v1/deliveries/shared/{}/a%1Fb", item.id))
        .send()
        .await
        .unwrap();
    let error = crate::helpers::error_of(bad, 422).await;
    assert_eq!(error["field"], "recipient", "{error}");

    // Reports count them like rows.
    let by_status = auditor
        .get_json("/v1/reports/deliveries?group_by=channel,status")
        .await;
    assert_eq!(
        statuses(&by_status),
        [
            ("inbox|\"delivered\"".to_owned(), 5),
            ("inbox|\"filtered\"".to_owned(), 1)
        ]
    );
    let today = Utc::now().date_naive();
    let by_day = auditor
        .get_json(&format!(
            "/v1/reports/deliveries?group_by=day&from={today}&to={today}&status=delivered"
        ))
        .await;
    assert_eq!(by_day["total"], 5, "{by_day}");
    assert_eq!(
        by_day["rows"],
        json!([{ "day": today.to_string(), "count": 5 }]),
        "rows and shared entries fall on the same day"
    );
    let funnel = auditor.get_json("/v1/reports/funnel").await;
    assert_eq!(funnel[0]["delivered"], 5, "{funnel}");
    assert_eq!(funnel[0]["sent"], 5, "{funnel}");
    let csv = auditor
        .get("/v1/deliveries?format=csv&status=delivered")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 1 + 5);
}

#[tokio::test]
async fn retention_moves_shared_entries_to_the_totals_and_keeps_the_items() {
    use herald_core::config::RetentionConfig;
    use herald_core::entities::message;
    use herald_core::retention::prune;

    let (app, key) = four_with_one_opted_out().await;
    let accepted = broadcast(&app, &key, "Sale", &["ana", "ben", "cy", "dee"]).await;
    let auditor = app.operator(Role::Viewer).await;
    let report = "/v1/reports/deliveries?group_by=channel,status";
    let before = statuses(&auditor.get_json(report).await);

    let retention = RetentionConfig {
        delivery_log_days: 1,
        batch_size: 2,
    };
    let later = Utc::now() + Duration::days(3);
    // Two workers side by side count nothing twice.
    let (first, second) = tokio::join!(
        prune(&app.db, &retention, later),
        prune(&app.db, &retention, later)
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.deliveries + second.deliveries, 4, "3 shared, 1 row");
    assert_eq!(first.messages + second.messages, 1, "the message goes last");
    assert_eq!(statuses(&auditor.get_json(report).await), before);
    assert!(whole_log(&auditor, "channel=inbox", 50).await.is_empty());
    assert_eq!(message::Entity::find().count(&app.db).await.unwrap(), 0);
    // The item stays in its recipients' inboxes.
    let item = shared_items(&app).await.remove(0);
    assert_eq!(item.logged_recipients, 0);
    let inbox = crate::recall::inbox_of(&app, "ana").await;
    assert_eq!(inbox["items"][0]["id"], item.id, "{inbox}");
    assert!(accepted["id"].is_i64());
}

/// A message whose message row outlives the period is kept while a shared item still
/// logs its deliveries.
#[tokio::test]
async fn a_message_is_not_pruned_while_its_shared_entries_are_in_the_log() {
    use herald_core::config::RetentionConfig;
    use herald_core::entities::message;
    use herald_core::retention::prune;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};

    let (app, key) = four_with_one_opted_out().await;
    let accepted = broadcast(&app, &key, "Sale", &["ana", "ben"]).await;
    let id = accepted["id"].as_i64().unwrap();
    // The message row is old, its item is new (as with a message planned long ago).
    message::ActiveModel {
        id: Set(id),
        created_at: Set(Utc::now() - Duration::days(30)),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .unwrap();
    let retention = RetentionConfig {
        delivery_log_days: 7,
        batch_size: 100,
    };
    let pruned = prune(&app.db, &retention, Utc::now()).await.unwrap();
    assert_eq!((pruned.deliveries, pruned.messages), (0, 0));
    assert!(
        message::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_backtest_replays_the_shared_entries() {
    let (app, key) = four_with_one_opted_out().await;
    for title in ["One", "Two", "Three"] {
        broadcast(&app, &key, title, &["ana", "ben"]).await;
    }
    let editor = app.operator(Role::Editor).await;
    let answer = editor
        .ok(
            Method::POST,
            "/v1/rules/backtest",
            &json!({ "days": 7, "rules": [
                { "name": "2 a day", "scope": "global", "kind": "frequency_cap",
                  "params": { "max": 2, "window": "day", "per": "channel" } },
            ] }),
        )
        .await;
    assert_eq!(answer["examined"], 6, "{answer}");
    assert_eq!(answer["held"], 2, "each one's third: {answer}");
    assert_eq!(answer["rules"][0]["by_channel"], json!({ "inbox": [2, 0] }));
}

/// A campaign page whose inbox part committed (its shared item stored) before its
/// worker died is run again: the recipients the item logs are decided, so nothing is
/// stored or counted twice.
#[tokio::test]
async fn a_page_run_again_after_its_shared_item_was_stored_stores_nothing_twice() {
    use herald_core::campaigns::pages::{claim, open_pages, prepare};
    use herald_core::rules::revision::RulesCache;

    let app = crate::helpers::spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (base, _seen) = crate::delivery_send::receiver().await;
    let template = json!({ "name": "both", "content": {
        "inbox": { "title": "Launch day", "body": "News" },
        "webhook": { "payload": r#"{"n": 1}"# } } });
    let people = ["ana", "ben", "cy"].map(|id| (id, format!("{base}/ok")));
    let template_id = crate::delivery_send::setup(&admin, template, &people).await;
    let campaign = crate::campaign_run::scheduled_campaign_on(
        &app,
        &admin,
        template_id,
        json!({ "kind": "now" }),
        json!(["inbox", "webhook"]),
    )
    .await;
    let deliverer = app.deliverer().await;
    let now = Utc::now();
    assert_eq!(deliverer.advance_campaigns(now).await.unwrap(), 1);
    let page = open_pages(&app.db).await.unwrap().remove(0);
    let first = claim(&app.db, page.id, "task-a", now)
        .await
        .unwrap()
        .unwrap();
    prepare(&app.db, &first, &RulesCache::default(), now)
        .await
        .unwrap();
    assert_eq!(
        shared_items(&app).await.len(),
        1,
        "stored as the page was prepared"
    );

    deliverer
        .run_page(page.id, "task-a", Utc::now())
        .await
        .unwrap()
        .unwrap();
    let items = shared_items(&app).await;
    assert_eq!(items.len(), 1, "not stored again: {items:?}");
    assert_eq!(items[0].logged_recipients, 3);
    let inbox_rows = delivery::Entity::find()
        .filter(delivery::Column::Channel.eq("inbox"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(inbox_rows, 0);
    let progress = admin
        .get_json(&format!("/v1/campaigns/{campaign}/progress"))
        .await;
    assert_eq!(
        (progress["targeted"].clone(), progress["delivered"].clone()),
        (json!(6), json!(6)),
        "{progress}"
    );
}

/// A subscriber's shared entries are a share row each: a page that ends on one, and the
/// next page that starts after it, still list every entry once.
#[tokio::test]
async fn one_subscribers_shared_entries_page_one_at_a_time() {
    let (app, key) = four_with_one_opted_out().await;
    for title in ["One", "Two", "Three"] {
        broadcast(&app, &key, title, &["ana", "ben"]).await;
    }
    let auditor = app.operator(Role::Viewer).await;
    let log = whole_log(&auditor, "subscriber=ana", 1).await;
    let items: Vec<i64> = log.iter().map(|e| e["item_id"].as_i64().unwrap()).collect();
    assert_eq!(items.len(), 3, "{log:#?}");
    assert!(
        items.windows(2).all(|w| w[0] > w[1]),
        "newest first: {items:?}"
    );
}
