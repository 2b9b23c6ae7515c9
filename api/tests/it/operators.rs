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
