use herald_core::access::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Session, error_of, spawn_app};

async fn put(session: &Session, id: &str, body: Value) -> reqwest::Response {
    session
        .put(&format!("/v1/subscribers/{id}"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn upsert_creates_then_replaces() {
    let app = spawn_app().await;
    let editor = app.operator(Role::Editor).await;
    let first = put(
        &editor,
        "user-1",
        json!({
            "email": "Ada@Example.com", "phone": "+4915112345678", "timezone": "Europe/Berlin",
            "locale": "de-DE", "tags": ["vip", "beta"], "attributes": { "plan": "pro", "age": 36 }
        }),
    )
    .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["email"], "ada@example.com");
    assert_eq!(body["tags"], json!(["vip", "beta"]));

    let second = put(&editor, "user-1", json!({ "email": "ada@example.org" })).await;
    assert_eq!(second.status(), StatusCode::OK);
    let body: Value = editor
        .get("/v1/subscribers/user-1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["email"], "ada@example.org");
    assert_eq!(
        body["timezone"],
        Value::Null,
        "PUT replaces the whole profile"
    );
    assert_eq!(body["tags"], json!([]));
}

#[tokio::test]
async fn list_filters_and_pages_through_subscribers() {
    let app = spawn_app().await;
    let editor = app.operator(Role::Editor).await;
    for i in 0..7 {
        let tags = if i % 2 == 0 {
            json!(["even"])
        } else {
            json!(["odd"])
        };
        let zone = if i < 3 {
            "Asia/Tokyo"
        } else {
            "America/New_York"
        };
        let body =
            json!({ "tags": tags, "timezone": zone, "attributes": { "n": i, "paid": i == 4 } });
        assert!(
            put(&editor, &format!("s{i}"), body)
                .await
                .status()
                .is_success()
        );
    }
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["external_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let get = |query: &'static str| editor.get(&format!("/v1/subscribers?{query}")).send();

    let even: Value = get("tag=even").await.unwrap().json().await.unwrap();
    assert_eq!(ids(&even), ["s0", "s2", "s4", "s6"]);
    let tokyo: Value = get("timezone=Asia/Tokyo")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&tokyo), ["s0", "s1", "s2"]);
    let by_number: Value = get("attribute=n:5").await.unwrap().json().await.unwrap();
    assert_eq!(ids(&by_number), ["s5"]);
    let by_bool: Value = get("attribute=paid:true")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&by_bool), ["s4"]);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/subscribers?limit=3&cursor={c}"),
            None => "/v1/subscribers?limit=3".to_owned(),
        };
        let page: Value = editor
            .get(&path)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["s0", "s1", "s2", "s3", "s4", "s5", "s6"]);
    // A search matches the start of the external id or the email, pattern characters
    // taken literally.
    put(&editor, "s1x", json!({ "email": "s_1@example.com" })).await;
    let search: Value = get("search=s1").await.unwrap().json().await.unwrap();
    assert_eq!(ids(&search), ["s1", "s1x"]);
    let by_email: Value = get("search=s_1%40").await.unwrap().json().await.unwrap();
    assert_eq!(ids(&by_email), ["s1x"], "`_` is not a wildcard");
    let none: Value = get("search=%25").await.unwrap().json().await.unwrap();
    assert_eq!(ids(&none), Vec::<String>::new(), "`%` is not a wildcard");
}

#[tokio::test]
async fn bad_input_on_every_subscriber_endpoint_names_the_field() {
    let app = spawn_app().await;
    let editor = app.operator(Role::Editor).await;
    assert!(put(&editor, "ok", json!({})).await.status().is_success());

    for (body, field) in [
        (json!({ "email": "not-an-email" }), "email"),
        (json!({ "phone": "0123" }), "phone"),
        (json!({ "timezone": "Mars/Base" }), "timezone"),
        (json!({ "locale": "!!" }), "locale"),
        (json!({ "tags": [""] }), "tags"),
        (json!({ "tags": "vip" }), "tags"),
        (json!({ "attributes": { "9lives": true } }), "attributes"),
        (json!({ "colour": "red" }), "colour"),
    ] {
        let error = error_of(put(&editor, "ok", body.clone()).await, 422).await;
        assert_eq!(error["field"], field, "{body}");
        assert_eq!(error["code"], "validation_failed");
    }
    let long_id = "x".repeat(300);
    let error = error_of(put(&editor, &long_id, json!({})).await, 422).await;
    assert_eq!(error["field"], "external_id");

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("cursor=zz", "cursor"),
        ("attribute=novalue", "attribute"),
    ] {
        let response = editor
            .get(&format!("/v1/subscribers?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(response, 422).await["field"], field, "{query}");
    }

    for (body, field) in [
        (json!({ "channel": "push", "address": "tok" }), "provider"),
        (
            json!({ "channel": "webhook", "address": "ftp://x" }),
            "address",
        ),
        (json!({ "channel": "mqtt", "address": "a/+/b" }), "address"),
        (json!({ "channel": "fax", "address": "1" }), "channel"),
        (
            json!({ "channel": "push", "provider": "fcm", "address": "" }),
            "address",
        ),
    ] {
        let response = editor
            .post("/v1/subscribers/ok/endpoints")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(response, 422).await["field"], field, "{body}");
    }

    for (body, field) in [
        (
            json!({ "preferences": [{ "channel": "fax", "category": "*", "opted_out": true }] }),
            "preferences[0].channel",
        ),
        (
            json!({ "preferences": [{ "channel": "email", "category": "", "opted_out": true }] }),
            "preferences[0].category",
        ),
        (
            json!({ "preferences": [{ "channel": "email", "category": "*" }] }),
            "preferences[0].opted_out",
        ),
    ] {
        let response = editor
            .put("/v1/subscribers/ok/preferences")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(response, 422).await["field"], field, "{body}");
    }
    // Nothing stored was changed by the refused requests.
    let stored: Value = editor
        .get("/v1/subscribers/ok")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["email"], Value::Null);
}

#[tokio::test]
async fn endpoints_and_preferences_round_trip_and_delete_removes_everything() {
    let app = spawn_app().await;
    let editor = app.operator(Role::Editor).await;
    assert!(
        put(&editor, "u", json!({ "email": "u@example.com" }))
            .await
            .status()
            .is_success()
    );

    let added = editor
        .post("/v1/subscribers/u/endpoints")
        .json(&json!({ "channel": "push", "provider": "fcm", "address": "device-token-1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);
    let endpoint: Value = added.json().await.unwrap();
    for body in [
        json!({ "channel": "webhook", "address": "https://hooks.example.com/u" }),
        json!({ "channel": "mqtt", "address": "herald/u/inbox" }),
    ] {
        assert_eq!(
            editor
                .post("/v1/subscribers/u/endpoints")
                .json(&body)
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::CREATED
        );
    }
    let listed: Value = editor
        .get("/v1/subscribers/u/endpoints")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3);
    let removed = editor
        .delete(&format!("/v1/subscribers/u/endpoints/{}", endpoint["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);

    let prefs = json!({ "preferences": [
        { "channel": "email", "category": "marketing", "opted_out": true },
        { "channel": "*", "category": "digest", "opted_out": true }
    ]});
    let stored: Value = editor
        .put("/v1/subscribers/u/preferences")
        .json(&prefs)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["preferences"].as_array().unwrap().len(), 2);

    let deleted = editor.delete("/v1/subscribers/u").send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        editor
            .get("/v1/subscribers/u")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    // Re-creating the id starts from nothing: the old endpoints and preferences are gone.
    assert!(put(&editor, "u", json!({})).await.status().is_success());
    let listed: Value = editor
        .get("/v1/subscribers/u/endpoints")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]));
    let prefs: Value = editor
        .get("/v1/subscribers/u/preferences")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prefs["preferences"], json!([]));
}

/// Deleting a subscriber keeps their deliveries in the log, anonymised, on both
/// databases (SQLite's foreign key used to cascade them away): waiting ones are
/// cancelled, their addresses are blanked out of what providers answered, and the log
/// names no one. Other subscribers' deliveries are untouched.
#[tokio::test]
async fn deleting_a_subscriber_keeps_their_deliveries_anonymised() {
    use chrono::Utc;
    use herald_core::entities::{delivery, delivery_attempt, message, subscriber};
    use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

    let app = spawn_app().await;
    let editor = app.operator(Role::Editor).await;
    let email = "gone.person@example.com";
    let hook = "https://hooks.example.com/gone-person";
    assert!(
        put(&editor, "gone", json!({ "email": email }))
            .await
            .status()
            .is_success()
    );
    assert!(put(&editor, "stays", json!({})).await.status().is_success());
    let added = editor
        .post("/v1/subscribers/gone/endpoints")
        .json(&json!({ "channel": "webhook", "address": hook }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);
    let now = Utc::now();
    let message = message::Entity::insert(message::ActiveModel {
        kind: Set("transactional".to_owned()),
        category: Set("orders".to_owned()),
        content: Set(None),
        data: Set(json!({})),
        channels: Set(json!(["email", "webhook"])),
        sender: Set("test".to_owned()),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(&app.db)
    .await
    .unwrap()
    .last_insert_id;
    let id_of = |external: &'static str| {
        let db = app.db.clone();
        async move {
            subscriber::Entity::find()
                .filter(subscriber::Column::ExternalId.eq(external))
                .one(&db)
                .await
                .unwrap()
                .unwrap()
                .id
        }
    };
    let (gone, stays) = (id_of("gone").await, id_of("stays").await);
    let answer = format!("250 accepted for <{email}>");
    let insert = |subscriber_id: i64, channel: &str, status: &str, detail: Option<&str>| {
        delivery::Entity::insert(delivery::ActiveModel {
            message_id: Set(message),
            subscriber_id: Set(subscriber_id),
            channel: Set(channel.to_owned()),
            status: Set(status.to_owned()),
            attempts: Set(1),
            first_attempt_at: Set(detail.map(|_| now)),
            first_attempt_ms: Set(detail.map(|_| 12)),
            first_attempt_detail: Set(detail.map(str::to_owned)),
            not_before: Set((status == "queued").then_some(now)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
    };
    let delivered = insert(gone, "email", "delivered", Some(&answer))
        .exec(&app.db)
        .await
        .unwrap()
        .last_insert_id;
    let retrying = insert(gone, "webhook", "queued", Some("HTTP 503"))
        .exec(&app.db)
        .await
        .unwrap()
        .last_insert_id;
    delivery_attempt::Entity::insert(delivery_attempt::ActiveModel {
        delivery_id: Set(retrying),
        attempt: Set(2),
        started_at: Set(now),
        duration_ms: Set(30),
        outcome: Set("retryable".to_owned()),
        detail: Set(format!("{hook}: connection refused")),
        ..Default::default()
    })
    .exec(&app.db)
    .await
    .unwrap();
    // Another subscriber's answer that happens to name the same address stays as it is.
    insert(stays, "email", "delivered", Some(&answer))
        .exec(&app.db)
        .await
        .unwrap();

    let deleted = editor.delete("/v1/subscribers/gone").send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        editor
            .get("/v1/subscribers/gone")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    let rows = delivery::Entity::find()
        .order_by_asc(delivery::Column::Id)
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 3, "every delivery stays in the log");
    assert_eq!(rows[0].id, delivered);
    assert_eq!(rows[0].status, "delivered");
    assert_eq!(
        rows[0].first_attempt_detail.as_deref(),
        Some("250 accepted for <[erased]>")
    );
    assert_eq!(rows[1].id, retrying);
    assert_eq!(
        rows[1].status, "cancelled",
        "a waiting delivery is not sent"
    );
    assert_eq!(
        rows[1].reason.as_deref(),
        Some("the subscriber was deleted")
    );
    assert_eq!(rows[1].not_before, None);
    assert_eq!(rows[2].subscriber_id, stays);
    assert_eq!(
        rows[2].first_attempt_detail.as_deref(),
        Some(answer.as_str())
    );
    let attempt = delivery_attempt::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(attempt.detail, "[erased]: connection refused");

    // The log and a delivery's trace still show them, naming no one.
    let log: Value = editor
        .get(&format!("/v1/deliveries?message_id={message}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let recipients: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["recipient"].as_str().unwrap())
        .collect();
    assert_eq!(recipients, ["stays", "", ""], "{log}");
    let trace: Value = editor
        .get(&format!("/v1/deliveries/{retrying}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(trace["recipient"], "");
    assert_eq!(
        trace["attempts_made"][1]["detail"],
        "[erased]: connection refused"
    );
}

/// A subscriber's export holds everything Herald has on them (profile, endpoints,
/// preferences, inbox items with archived ones, their deliveries) and nobody else's;
/// each export is audited.
#[tokio::test]
async fn an_export_holds_everything_on_the_subscriber_and_is_audited() {
    let app = crate::helpers::spawn_app_with_token_secret().await;
    let admin = app.operator(Role::Admin).await;
    let profile = json!({ "email": "ana@example.com", "attributes": { "plan": "pro" } });
    assert!(put(&admin, "ana", profile).await.status().is_success());
    assert!(put(&admin, "ben", json!({})).await.status().is_success());
    let added = admin
        .post("/v1/subscribers/ana/endpoints")
        .json(&json!({ "channel": "webhook", "address": "https://hooks.example.com/ana" }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);
    let prefs = admin
        .put("/v1/subscribers/ana/preferences")
        .json(&json!({ "preferences": [{ "channel": "email", "category": "news", "opted_out": true }] }))
        .send()
        .await
        .unwrap();
    assert!(prefs.status().is_success());
    let key = app.api_key(&["messages:send"]).await;
    for title in ["First", "Second"] {
        let sent = app
            .anonymous()
            .post(app.url("/v1/messages"))
            .bearer_auth(&key)
            .json(
                &json!({ "recipients": ["ana", "ben"], "channels": ["inbox"], "category": "orders",
                "content": { "inbox": { "title": title, "body": "Body" } } }),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status().as_u16(), 202);
    }

    // An item put away is still hers, and still exported.
    let token = crate::helpers::subscriber_token("ana");
    let inbox: Value = app
        .anonymous()
        .get(app.url("/v1/inbox"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = inbox["items"][1]["id"].as_i64().unwrap();
    let archived = app
        .anonymous()
        .post(app.url(&format!("/v1/inbox/{first}/archive")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(archived.status().is_success());

    let response = admin
        .get("/v1/subscribers/ana/export")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let export: Value = response.json().await.unwrap();
    assert_eq!(export["subscriber"]["external_id"], "ana");
    assert_eq!(export["subscriber"]["email"], "ana@example.com");
    assert_eq!(export["subscriber"]["attributes"]["plan"], "pro");
    assert_eq!(
        export["endpoints"][0]["address"],
        "https://hooks.example.com/ana"
    );
    assert_eq!(export["preferences"][0]["category"], "news");
    let titles: Vec<&str> = export["inbox"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["First", "Second"]);
    assert!(export["inbox"][0]["archived_at"].is_string(), "{export}");
    let deliveries = export["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2, "{export}");
    assert!(
        deliveries
            .iter()
            .all(|d| d["recipient"] == "ana" && d["status"] == "delivered")
    );
    assert!(
        !export.to_string().contains("\"ben\""),
        "nobody else's data: {export}"
    );

    let audit: Value = admin
        .get("/v1/audit-log?target_kind=subscriber&target_id=ana")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "subscriber.export"),
        "{audit}"
    );
    assert_eq!(
        admin
            .get("/v1/subscribers/nobody/export")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}
