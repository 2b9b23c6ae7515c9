//! Transactional sends through the API: accepted with 202, idempotent under a key,
//! refused with the field named, readable only by their sender, and delivered by the
//! worker to a real webhook receiver.

use std::collections::HashSet;

use chrono::Utc;
use herald_core::Error;
use herald_core::access::Role;
use herald_core::entities::delivery;
use herald_core::messages::{SendRequest, send_many};
use herald_core::rules::revision::RulesCache;
use reqwest::{Method, StatusCode};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::delivery_send::{receiver, setup};
use crate::helpers::{Session, TestApp, error_of, spawn_app};

#[tokio::test]
async fn a_send_is_accepted_once_per_key_and_delivered() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (base, seen) = receiver().await;
    let template_id = setup(
        &admin,
        json!({ "name": "code", "data_keys": ["code"],
                "content": { "webhook": { "payload": r#"{"code": {{ data.code }}}"# } } }),
        &[("ana", format!("{base}/ok")), ("ben", format!("{base}/ok"))],
    )
    .await;
    admin
        .ok(
            Method::POST,
            "/v1/rules",
            &json!({ "name": "no spam", "scope": "global", "kind": "keyword",
            "params": { "words": ["lottery"] } }),
        )
        .await;
    let key = app.api_key(&["messages:send"]).await;
    let other_key = app.api_key(&["messages:send"]).await;
    let client = reqwest::Client::new();
    let send = |body: Value, idempotency: Option<&str>, key: &str| {
        let mut request = client
            .post(app.url("/v1/messages"))
            .bearer_auth(key)
            .json(&body);
        if let Some(idempotency) = idempotency {
            request = request.header("Idempotency-Key", idempotency);
        }
        request.send()
    };
    let body = json!({ "recipients": ["ana", "ben"], "template_id": template_id, "data": { "code": 42 },
                       "channels": ["webhook"], "category": "security" });

    let first = send(body.clone(), Some("order-17"), &key).await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["recipients"], 2);
    assert_eq!(first["queued"], 2);
    let again: Value = send(body.clone(), Some("order-17"), &key)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        again, first,
        "a repeat answers the same and sends nothing more"
    );
    let mut changed = body.clone();
    changed["data"]["code"] = json!(43);
    let error = error_of(send(changed, Some("order-17"), &key).await.unwrap(), 422).await;
    assert_eq!(error["field"], "Idempotency-Key");
    let error = error_of(
        send(body.clone(), Some(&"x".repeat(201)), &key)
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(error["field"], "Idempotency-Key");

    // The worker delivers; the sender reads the per-recipient status.
    let deliverer = app.deliverer().await;
    let recorded = deliverer.run_once(Utc::now()).await.unwrap();
    assert_eq!(recorded.delivered, 2);
    assert_eq!(seen.ids("ok").len(), 2);
    let id = first["id"].as_i64().unwrap();
    let report: Value = client
        .get(app.url(&format!("/v1/messages/{id}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let deliveries = report["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2);
    assert!(
        deliveries
            .iter()
            .all(|d| d["status"] == "delivered" && d["attempts"] == 1),
        "{report}"
    );
    assert_eq!(deliveries[0]["recipient"], "ana");
    let response = client
        .get(app.url(&format!("/v1/messages/{id}")))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap();
    error_of(response, 404).await;

    // Refusals name the field.
    for (body, field) in [
        (
            json!({ "recipients": ["nobody", "no-one"], "template_id": template_id, "data": { "code": 1 },
                 "channels": ["webhook"], "category": "x" }),
            "recipients[0]",
        ),
        (
            json!({ "recipients": ["ana"], "template_id": template_id, "channels": ["webhook"], "category": "x" }),
            "data.code",
        ),
        (
            json!({ "recipients": ["ana"], "template_id": template_id, "data": { "code": 1 },
                 "channels": ["email"], "category": "x" }),
            "channels[0]",
        ),
        (
            json!({ "recipients": ["ana"], "channels": ["webhook"], "category": "x" }),
            "template_id",
        ),
        (
            json!({ "recipients": [], "content": { "webhook": { "payload": "{}" } }, "channels": ["webhook"], "category": "x" }),
            "recipients",
        ),
        (
            json!({ "recipients": ["ana"], "content": { "webhook": { "payload": r#"{"t": "win the lottery"}"# } },
                 "channels": ["webhook"], "category": "x" }),
            "content",
        ),
    ] {
        let error = error_of(send(body.clone(), None, &key).await.unwrap(), 422).await;
        assert_eq!(error["field"], field, "{body}");
    }

    // Inline content works without a template.
    let inline = send(
        json!({ "recipients": ["ben"], "content": { "webhook": { "payload": r#"{"inline": true}"# } },
                "channels": ["webhook"], "category": "x" }),
        None,
        &key,
    )
    .await
    .unwrap();
    assert_eq!(inline.status(), StatusCode::ACCEPTED);
    assert_eq!(deliverer.run_once(Utc::now()).await.unwrap().delivered, 1);

    // Recipients that are no subscriber are reported, and the others are sent to; a
    // repeat with the same key answers the same.
    let partly_unknown = json!({ "recipients": ["ana", "nobody", "ben", "nobody", "gone"],
        "template_id": template_id, "data": { "code": 7 }, "channels": ["webhook"], "category": "x" });
    let mut answers = Vec::new();
    for _ in 0..2 {
        let response = send(partly_unknown.clone(), Some("partly-unknown"), &key)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        answers.push(response.json::<Value>().await.unwrap());
    }
    for answer in &answers {
        assert_eq!(answer["id"], answers[0]["id"]);
        assert_eq!(answer["recipients"], 2, "{answer}");
        assert_eq!(answer["unknown"], json!(["nobody", "gone"]), "{answer}");
        assert_eq!(answer["queued"], 2, "{answer}");
    }
    assert_eq!(deliverer.run_once(Utc::now()).await.unwrap().delivered, 2);
}

/// An app and its admin, with subscribers ana and ben, each with a webhook endpoint on a
/// receiver that answers 200.
async fn ana_and_ben_on_webhooks() -> (TestApp, Session) {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (base, _) = receiver().await;
    setup(
        &admin,
        json!({ "name": "unused", "content": { "webhook": { "payload": "{}" } } }),
        &[("ana", format!("{base}/ok")), ("ben", format!("{base}/ok"))],
    )
    .await;
    (app, admin)
}

/// Sends that arrive together are accepted in one transaction, yet each gets its own
/// answer, and rules count the batch's earlier messages as sent.
#[tokio::test]
async fn sends_accepted_together_each_get_their_own_answer_and_rules_see_the_batch() {
    let (app, admin) = ana_and_ben_on_webhooks().await;
    for rule in [
        json!({ "name": "one promo", "scope": "category", "scope_value": "promo", "kind": "frequency_cap",
                "params": { "max": 1, "window": "rolling", "rolling_secs": 3600, "per": "category" } }),
        json!({ "name": "same key once", "scope": "global", "kind": "dedup",
                "params": { "window_secs": 3600, "by": "dedup_key" } }),
        json!({ "name": "no spam", "scope": "global", "kind": "keyword", "params": { "words": ["lottery"] } }),
    ] {
        admin.ok(Method::POST, "/v1/rules", &rule).await;
    }
    let request = |to: &str, category: &str, dedup: Option<&str>, key: Option<&str>, text: &str| {
        let input = serde_json::from_value(json!({
            "recipients": [to], "channels": ["webhook"], "category": category, "dedup_key": dedup,
            "content": { "webhook": { "payload": format!(r#"{{"t": "{text}"}}"#) } } }))
        .unwrap();
        SendRequest {
            sender: "api_key:1".to_owned(),
            idempotency_key: key.map(str::to_owned),
            input,
        }
    };
    // The same content twice: checked once per set of data fields it is sent with.
    let with_data = |data: Value| {
        let input = serde_json::from_value(json!({
            "recipients": ["ana"], "channels": ["webhook"], "category": "counts", "data": data,
            "content": { "webhook": { "payload": r#"{"n": {{ data.n }}}"# } } }))
        .unwrap();
        SendRequest {
            sender: "api_key:1".to_owned(),
            idempotency_key: None,
            input,
        }
    };
    let sent = send_many(
        &app.db,
        &app.bus,
        &RulesCache::default(),
        vec![
            request("ana", "promo", None, None, "first"),
            request("ana", "promo", None, None, "second"),
            request("nobody", "promo", None, None, "lost"),
            request("ben", "security", None, Some("k1"), "code"),
            request("ben", "security", None, Some("k1"), "code"),
            request("ben", "news", Some("d"), None, "news"),
            request("ben", "news", Some("d"), None, "news again"),
            request("ben", "news", None, None, "win the lottery"),
            with_data(json!({ "n": 1 })),
            with_data(json!({})),
        ],
    )
    .await;
    assert!(sent.queued, "the webhooks wait for a worker");
    let answers = &sent.answers;
    let counts = |index: usize| {
        let accepted = answers[index].as_ref().unwrap();
        (accepted.queued, accepted.filtered)
    };
    assert_eq!(counts(0), (1, 0));
    assert_eq!(counts(1), (0, 1), "the cap counts the batch's first promo");
    assert!(
        matches!(&answers[2], Err(Error::Invalid { field, .. }) if field == "recipients[0]"),
        "{:?}",
        answers[2]
    );
    assert_eq!(counts(3), (1, 0));
    assert_eq!(
        answers[4].as_ref().unwrap().id,
        answers[3].as_ref().unwrap().id,
        "a key repeated in the batch answers with the first message"
    );
    assert_eq!(counts(5), (1, 0));
    assert_eq!(
        counts(6),
        (0, 1),
        "the same dedup key twice in a batch sends once"
    );
    assert!(matches!(&answers[7], Err(Error::Banned { .. })));
    assert_eq!(counts(8), (1, 0));
    assert!(
        matches!(&answers[9], Err(Error::Invalid { field, .. }) if field == "content.webhook.payload"),
        "data.n is not sent: {:?}",
        answers[9]
    );

    let ids: HashSet<i64> = answers.iter().flatten().map(|a| a.id).collect();
    assert_eq!(
        ids.len(),
        6,
        "six messages stored, one per accepted request"
    );
    let deliveries = delivery::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(deliveries.len(), 6);
    for accepted in answers.iter().flatten() {
        let mine: Vec<_> = deliveries
            .iter()
            .filter(|d| d.message_id == accepted.id)
            .collect();
        assert_eq!(mine.len(), 1, "each message has its own delivery");
        let queued = mine[0].status == "queued";
        assert_eq!(u64::from(queued), accepted.queued);
    }
}

/// Batches keep the rules between them, and see a rule or a block-list entry added in
/// between: the cache reads them again when their revision moves.
#[tokio::test]
async fn batches_see_rules_and_list_entries_added_between_them() {
    let (app, admin) = ana_and_ben_on_webhooks().await;
    let request = |to: &str, text: &str| SendRequest {
        sender: "api_key:1".to_owned(),
        idempotency_key: None,
        input: serde_json::from_value(json!({
            "recipients": [to], "channels": ["webhook"], "category": "news",
            "content": { "webhook": { "payload": format!(r#"{{"t": "{text}"}}"#) } } }))
        .unwrap(),
    };
    let rules = RulesCache::default();
    let send_both = || {
        let both = vec![request("ana", "win the lottery"), request("ben", "hello")];
        send_many(&app.db, &app.bus, &rules, both)
    };
    let first = send_both().await;
    for answer in &first.answers {
        assert_eq!(answer.as_ref().unwrap().queued, 1, "{answer:?}");
    }

    admin
        .ok(
            Method::POST,
            "/v1/rules",
            &json!({ "name": "no spam", "scope": "global",
            "kind": "keyword", "params": { "words": ["lottery"] } }),
        )
        .await;
    admin.block_subscriber("ben").await;
    let second = send_both().await;
    assert!(
        matches!(&second.answers[0], Err(Error::Banned { .. })),
        "{:?}",
        second.answers[0]
    );
    let to_ben = second.answers[1].as_ref().unwrap();
    assert_eq!(
        (to_ben.queued, to_ben.filtered),
        (0, 1),
        "ben is blocked now"
    );
}

/// Many clients sending at once through the API: every send is accepted once, with
/// its own message and delivery.
#[tokio::test]
async fn concurrent_api_sends_are_each_accepted_once() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (base, _) = receiver().await;
    let subscribers: Vec<(String, String)> = (0..40)
        .map(|i| (format!("s{i}"), format!("{base}/ok")))
        .collect();
    setup(
        &admin,
        json!({ "name": "unused", "content": { "webhook": { "payload": "{}" } } }),
        &subscribers,
    )
    .await;
    let key = app.api_key(&["messages:send"]).await;
    let client = reqwest::Client::new();
    let sends = subscribers.iter().map(|(id, _)| {
        client
            .post(app.url("/v1/messages"))
            .bearer_auth(&key)
            .json(&json!({ "recipients": [id], "channels": ["webhook"], "category": "x",
                           "content": { "webhook": { "payload": format!(r#"{{"to": "{id}"}}"#) } } }))
            .send()
    });
    let mut ids = HashSet::new();
    for response in futures::future::join_all(sends).await {
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let accepted: Value = response.json().await.unwrap();
        assert_eq!(accepted["queued"], 1, "{accepted}");
        ids.insert(accepted["id"].as_i64().unwrap());
    }
    assert_eq!(ids.len(), 40);
    let deliveries = delivery::Entity::find().all(&app.db).await.unwrap();
    let messages: HashSet<i64> = deliveries.iter().map(|d| d.message_id).collect();
    assert_eq!(deliveries.len(), 40);
    assert_eq!(
        messages, ids,
        "each answer names the message its delivery belongs to"
    );
}

/// When a batch's write fails, each of its requests is accepted on its own: the error
/// goes to the request that caused it, and the others are accepted as if they had come
/// alone. A trigger that refuses one category makes the batched insert fail.
#[tokio::test]
async fn a_failed_batch_write_answers_each_request_on_its_own() {
    use herald_core::entities::message;
    use sea_orm::{ConnectionTrait, DbBackend};

    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    admin
        .ok(Method::PUT, "/v1/subscribers/ana", &json!({}))
        .await;
    let refuse = match app.db.get_database_backend() {
        DbBackend::Postgres => {
            "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'boom is refused'; END $$; \
             CREATE TRIGGER refuse_boom BEFORE INSERT ON messages FOR EACH ROW \
             WHEN (NEW.category = 'boom') EXECUTE FUNCTION refuse_boom();"
        }
        _ => {
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON messages \
             WHEN NEW.category = 'boom' BEGIN SELECT RAISE(ABORT, 'boom is refused'); END;"
        }
    };
    app.db.execute_unprepared(refuse).await.unwrap();
    let request = |category: &str| SendRequest {
        sender: "api_key:1".to_owned(),
        idempotency_key: Some(format!("key-{category}")),
        input: serde_json::from_value(json!({
            "recipients": ["ana"], "channels": ["inbox"], "category": category,
            "content": { "inbox": { "title": "Hi", "body": category } } }))
        .unwrap(),
    };

    let sent = send_many(
        &app.db,
        &app.bus,
        &RulesCache::default(),
        vec![request("first"), request("boom"), request("last")],
    )
    .await;
    let [first, boom, last] = &sent.answers[..] else {
        panic!("one answer per request: {:?}", sent.answers);
    };
    assert!(
        matches!(boom, Err(Error::Database(_))),
        "the refused request gets the error: {boom:?}"
    );
    let (first, last) = (first.as_ref().unwrap(), last.as_ref().unwrap());
    assert_eq!((first.queued, last.queued), (1, 1));
    let mut stored: Vec<(i64, String)> = message::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.id, m.category))
        .collect();
    stored.sort();
    assert_eq!(
        stored,
        [(first.id, "first".to_owned()), (last.id, "last".to_owned())],
        "nothing of the failed batch write was kept; each request stored its own"
    );
    assert!(
        sent.queued,
        "requests accepted alone leave their inbox deliveries to a worker"
    );
    let again = send_many(
        &app.db,
        &app.bus,
        &RulesCache::default(),
        vec![request("first")],
    )
    .await;
    assert_eq!(
        again.answers[0].as_ref().unwrap().id,
        first.id,
        "its idempotency key was recorded"
    );
}
