use herald_core::access::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{error_of, spawn_app};

#[tokio::test]
async fn admins_create_and_change_operators() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let created = admin
        .post("/v1/operators")
        .json(&json!({ "username": "rita", "password": "a long enough password", "role": "reviewer" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let rita: serde_json::Value = created.json().await.unwrap();
    assert_eq!(rita["role"], "reviewer");
    assert!(rita.get("password_hash").is_none());

    let duplicate = admin
        .post("/v1/operators")
        .json(
            &json!({ "username": "rita", "password": "a long enough password", "role": "viewer" }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(duplicate, 409).await["code"], "username_taken");

    let id = rita["id"].as_i64().unwrap();
    let changed: serde_json::Value = admin
        .patch(&format!("/v1/operators/{id}"))
        .json(&json!({ "role": "editor", "display_name": "Rita R." }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(changed["role"], "editor");
    assert_eq!(changed["display_name"], "Rita R.");
    let missing = admin.get("/v1/operators/424242").send().await.unwrap();
    assert_eq!(error_of(missing, 404).await["code"], "not_found");
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_or_disabled() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let me: serde_json::Value = admin
        .get("/v1/auth/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = me["id"].as_i64().unwrap();
    for patch in [json!({ "role": "viewer" }), json!({ "disabled": true })] {
        let response = admin
            .patch(&format!("/v1/operators/{id}"))
            .json(&patch)
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(response, 409).await["code"], "last_admin");
    }
    // With a second admin, the first may step down.
    let _second = app.operator(Role::Admin).await;
    let response = admin
        .patch(&format!("/v1/operators/{id}"))
        .json(&json!({ "role": "viewer" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_operator_input_names_the_field() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    for (body, field) in [
        (
            json!({ "username": "x y", "password": "a long enough password", "role": "viewer" }),
            "username",
        ),
        (
            json!({ "username": "ok", "password": "short", "role": "viewer" }),
            "password",
        ),
        (
            json!({ "username": "ok", "password": "a long enough password", "role": "king" }),
            "role",
        ),
        (json!({ "username": "ok", "role": "viewer" }), "password"),
    ] {
        let response = admin
            .post("/v1/operators")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(response, 422).await["field"], field, "{body}");
    }
}

/// A transaction that reads before it writes (most of core's) must not fail when another
/// connection commits in between: on SQLite its write would find its snapshot stale
/// ("database is locked", whatever the busy timeout) unless it held the write lock from
/// the start, as `begin_write` does.
#[tokio::test]
async fn a_transaction_that_reads_then_writes_survives_a_concurrent_commit() {
    use herald_core::audit::{Actor, AuditContext};
    use herald_core::entities::operator;
    use herald_core::operators::{self, NewOperator};
    use sea_orm::{EntityTrait, PaginatorTrait};

    let app = spawn_app().await;
    let txn = herald_core::db::begin_write(&app.db).await.unwrap();
    let before = operator::Entity::find().count(&txn).await.unwrap();
    let db = app.db.clone();
    let other = tokio::spawn(async move {
        let new = NewOperator {
            username: "concurrent".into(),
            display_name: None,
            password: "a long enough password".into(),
            role: Role::Viewer,
        };
        operators::create(&db, &AuditContext::new(Actor::System), new).await
    });
    // Give the other writer time to commit, if it could.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let new = NewOperator {
        username: "first".into(),
        display_name: None,
        password: "a long enough password".into(),
        role: Role::Viewer,
    };
    operators::create(&txn, &AuditContext::new(Actor::System), new)
        .await
        .expect("the write after a read is not refused");
    txn.commit().await.unwrap();
    other
        .await
        .unwrap()
        .expect("the other writer waited its turn");
    let after = operator::Entity::find().count(&app.db).await.unwrap();
    assert_eq!(after, before + 2);
}
