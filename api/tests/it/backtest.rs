//! Rule backtesting: a draft rule set replayed over the delivery log says what it would
//! have held back or deferred, per rule, channel and day, with sample subscribers.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use herald_core::access::Role;
use herald_core::entities::delivery;
use reqwest::Method;
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_of, insert_message, spawn_app};
use crate::inbox_stream::subscriber_id;

/// A delivered row of `message` to `subscriber` on `channel`, attempted at `at`.
fn delivered(
    message: i64,
    subscriber: i64,
    channel: &str,
    at: DateTime<Utc>,
) -> delivery::ActiveModel {
    delivery::ActiveModel {
        message_id: Set(message),
        subscriber_id: Set(subscriber),
        channel: Set(channel.into()),
        endpoint_id: Set(0),
        status: Set("delivered".into()),
        attempts: Set(1),
        first_attempt_at: Set(Some(at)),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
}

/// `hh:mm` on `day` in `zone`, in UTC.
fn local(zone: Tz, day: chrono::NaiveDate, hh: u32, mm: u32) -> DateTime<Utc> {
    zone.from_local_datetime(&day.and_time(NaiveTime::from_hms_opt(hh, mm, 0).unwrap()))
        .unwrap()
        .with_timezone(&Utc)
}

async fn seeded() -> TestApp {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    admin
        .ok(
            Method::PUT,
            "/v1/subscribers/ana",
            &json!({ "timezone": "Europe/Berlin" }),
        )
        .await;
    admin
        .ok(Method::PUT, "/v1/subscribers/ben", &json!({}))
        .await;
    let (ana, ben) = (
        subscriber_id(&app, "ana").await,
        subscriber_id(&app, "ben").await,
    );
    let berlin: Tz = "Europe/Berlin".parse().unwrap();
    let day = (Utc::now() - Duration::days(2))
        .with_timezone(&berlin)
        .date_naive();
    let sends = [
        // Ana, four webhooks on one of her days.
        (ana, "webhook", local(berlin, day, 9, 0)),
        (ana, "webhook", local(berlin, day, 10, 0)),
        (ana, "webhook", local(berlin, day, 11, 0)),
        (ana, "webhook", local(berlin, day, 21, 30)),
        // Ben (no time zone: UTC), one email at night and one at noon.
        (ben, "email", local(Tz::UTC, day, 3, 0)),
        (ben, "email", local(Tz::UTC, day, 12, 0)),
    ];
    let mut rows = Vec::new();
    for (subscriber, channel, at) in sends {
        // One message each, as each was its own send.
        let message = insert_message(&app.db, "news", None, json!([channel])).await;
        rows.push(delivered(message.id, subscriber, channel, at));
    }
    delivery::Entity::insert_many(rows)
        .exec(&app.db)
        .await
        .unwrap();
    app
}

#[tokio::test]
async fn a_draft_rule_set_says_what_it_would_have_held_back_or_deferred() {
    let app = seeded().await;
    let editor = app.operator(Role::Editor).await;
    let answer = editor
        .ok(
            Method::POST,
            "/v1/rules/backtest",
            &json!({ "days": 7, "rules": [
                { "name": "2 a day", "scope": "global", "kind": "frequency_cap",
                  "params": { "max": 2, "window": "day", "per": "channel" } },
                { "name": "daytime", "scope": "global", "kind": "quiet_hours",
                  "params": { "allowed_from": "08:00", "allowed_until": "22:00",
                              "default_timezone": "UTC", "action": "defer" } },
            ] }),
        )
        .await;
    assert_eq!(answer["examined"], 6, "{answer}");
    assert_eq!(
        (answer["held"].clone(), answer["deferred"].clone()),
        (json!(2), json!(1))
    );
    let cap = &answer["rules"][0];
    assert_eq!(cap["name"], "2 a day");
    assert_eq!(cap["held"], 2, "ana's third and fourth of the day: {cap}");
    assert_eq!(cap["by_channel"], json!({ "webhook": [2, 0] }));
    assert_eq!(cap["samples"], json!(["ana"]));
    assert_eq!(
        cap["by_day"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v[0].as_u64().unwrap())
            .sum::<u64>(),
        2
    );
    let quiet = &answer["rules"][1];
    assert_eq!(quiet["deferred"], 1, "ben's email at 03:00 UTC: {quiet}");
    assert_eq!(quiet["by_channel"], json!({ "email": [0, 1] }));
    assert_eq!(quiet["samples"], json!(["ben"]));

    // Scoped to email, a cap of one a day holds back only ben's second email.
    let answer = editor
        .ok(
            Method::POST,
            "/v1/rules/backtest",
            &json!({ "days": 7, "rules": [
                { "name": "email 1 a day", "scope": "channel", "scope_value": "email", "kind": "frequency_cap",
                  "params": { "max": 1, "window": "day", "per": "channel" } },
            ] }),
        )
        .await;
    assert_eq!(answer["held"], 1, "{answer}");
    assert_eq!(answer["rules"][0]["by_channel"], json!({ "email": [1, 0] }));

    // A budget of three a day defers ana's fourth webhook; made the top class, `news`
    // counts only itself, which changes nothing here, and two a day defers two.
    for (max, classes, deferred) in [
        (3, json!([]), 1),
        (2, json!([{ "name": "top", "categories": ["news"] }]), 2),
    ] {
        let answer = editor
            .ok(
                Method::POST,
                "/v1/rules/backtest",
                &json!({ "days": 7, "rules": [
                    { "name": "budget", "scope": "global", "kind": "fatigue_budget",
                      "params": { "max": max, "window": "day", "classes": classes } },
                ] }),
            )
            .await;
        assert_eq!(answer["deferred"], deferred, "{answer}");
        assert_eq!(
            answer["rules"][0]["by_channel"],
            json!({ "webhook": [0, deferred] })
        );
    }
}

#[tokio::test]
async fn a_backtest_names_the_draft_field_at_fault() {
    let app = seeded().await;
    let editor = app.operator(Role::Editor).await;
    let cap = json!({ "name": "cap", "scope": "global", "kind": "frequency_cap",
        "params": { "max": 2, "window": "day", "per": "channel" } });
    for (body, field) in [
        (json!({ "days": 0, "rules": [cap] }), "days"),
        (json!({ "days": 7, "rules": [] }), "rules"),
        (
            json!({ "days": 7, "rules": [cap, { "name": "words", "scope": "global", "kind": "keyword",
                "params": { "words": ["free"] } }] }),
            "rules[1].kind",
        ),
        (
            json!({ "days": 7, "rules": [{ "name": "cap", "scope": "channel", "kind": "frequency_cap",
                "params": { "max": 2, "window": "day", "per": "channel" } }] }),
            "rules[0].scope_value",
        ),
        (
            json!({ "days": 7, "rules": [{ "name": "cap", "scope": "global", "kind": "frequency_cap",
                "params": { "max": 0, "window": "day", "per": "channel" } }] }),
            "rules[0].params.max",
        ),
    ] {
        let refused = editor
            .post("/v1/rules/backtest")
            .json(&body)
            .send()
            .await
            .unwrap();
        let error: Value = error_of(refused, 422).await;
        assert_eq!(error["field"], field, "{body}: {error}");
    }
}
