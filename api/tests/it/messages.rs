//! Transactional sends through the API: accepted with 202, idempotent under a key,
//! refused with the field named, readable only by their sender, and delivered by the
//! worker to a real webhook receiver.

use chrono::Utc;
use herald_core::access::Role;
use herald_worker::deliver::Deliverer;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::delivery_send::{receiver, setup};
use crate::helpers::{error_of, spawn_app, test_config};

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
    let deliverer = Deliverer::new(app.db.clone(), &test_config())
        .await
        .unwrap();
    let recorded = deliverer.run_once(Utc::now()).await.unwrap();
    assert_eq!(recorded.delivered, 2);
    assert_eq!(seen.lock().unwrap()["ok"].len(), 2);
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
            json!({ "recipients": ["ana", "nobody"], "template_id": template_id, "data": { "code": 1 },
                 "channels": ["webhook"], "category": "x" }),
            "recipients[1]",
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
}
