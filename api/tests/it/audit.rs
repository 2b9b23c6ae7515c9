use herald_core::access::Role;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_admin_action_leaves_an_audit_row() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let created: Value = admin
        .post("/v1/operators")
        .json(
            &json!({ "username": "vera", "password": "a long enough password", "role": "viewer" }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let vera = created["id"].as_i64().unwrap();
    admin
        .patch(&format!("/v1/operators/{vera}"))
        .json(&json!({ "role": "editor" }))
        .send()
        .await
        .unwrap();
    let key: Value = admin
        .post("/v1/api-keys")
        .json(&json!({ "name": "svc", "scopes": ["messages:send"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    admin
        .delete(&format!("/v1/api-keys/{}", key["api_key"]["id"]))
        .send()
        .await
        .unwrap();
    admin
        .put("/v1/subscribers/s1")
        .json(&json!({ "email": "s1@example.com" }))
        .send()
        .await
        .unwrap();
    admin
        .put("/v1/subscribers/s1")
        .json(&json!({ "email": "s1@example.org" }))
        .send()
        .await
        .unwrap();
    admin
        .post("/v1/subscribers/s1/endpoints")
        .json(&json!({ "channel": "mqtt", "address": "t/s1" }))
        .send()
        .await
        .unwrap();
    admin
        .put("/v1/subscribers/s1/preferences")
        .json(&json!({ "preferences": [{ "channel": "*", "category": "*", "opted_out": true }] }))
        .send()
        .await
        .unwrap();
    admin
        .post("/v1/subscriber-imports")
        .header("content-type", "application/x-ndjson")
        .body("{\"external_id\":\"s2\"}\n")
        .send()
        .await
        .unwrap();
    admin.delete("/v1/subscribers/s1").send().await.unwrap();

    let viewer = app.operator(Role::Viewer).await;
    let page: Value = viewer
        .get("/v1/audit-log?limit=100")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "auth.login",
        "operator.create",
        "operator.update",
        "api_key.create",
        "api_key.revoke",
        "subscriber.create",
        "subscriber.update",
        "subscriber.endpoint.add",
        "subscriber.preferences.replace",
        "subscriber.import",
        "subscriber.delete",
    ] {
        assert!(
            actions.contains(&expected),
            "no audit row for {expected}: {actions:?}"
        );
    }
    let update = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "operator.update")
        .unwrap();
    assert_eq!(update["before"]["role"], "viewer");
    assert_eq!(update["after"]["role"], "editor");
    assert!(update["actor_name"].as_str().unwrap().starts_with("admin-"));
    assert!(update["request_id"].is_string());
    // Personal data stays out of the log, so deleting a subscriber erases it.
    assert!(
        !page.to_string().contains("s1@example"),
        "the audit log must not hold emails"
    );

    let filtered: Value = viewer
        .get("/v1/audit-log?target_kind=subscriber&target_id=s1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        filtered["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["target_id"] == "s1")
    );
}

#[tokio::test]
async fn the_audit_log_is_append_only_in_the_database() {
    let app = spawn_app().await;
    let _ = app.operator(Role::Admin).await;
    for statement in [
        "UPDATE audit_log SET action = 'forged'",
        "DELETE FROM audit_log",
    ] {
        assert!(
            app.db.execute_unprepared(statement).await.is_err(),
            "{statement} must fail"
        );
    }
}

#[tokio::test]
async fn audit_pages_go_from_newest_to_oldest() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    for i in 0..5 {
        admin
            .put(&format!("/v1/subscribers/p{i}"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
    }
    let first: Value = admin
        .get("/v1/audit-log?limit=3")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = admin
        .get(&format!("/v1/audit-log?limit=3&cursor={cursor}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
}
