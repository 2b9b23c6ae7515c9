use std::time::Duration;

use herald_api::auth::KeyCache;
use herald_core::Error;
use herald_core::access::Role;
use herald_core::api_keys;
use herald_core::audit::{Actor, AuditContext};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{error_of, spawn_app};

#[tokio::test]
async fn a_key_is_shown_once_and_works_as_bearer() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let response = admin
        .post("/v1/api-keys")
        .json(
            &json!({ "name": "shop backend", "scopes": ["subscribers:read", "subscribers:write"] }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: serde_json::Value = response.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("hk_"));

    let listed = admin
        .get("/v1/api-keys")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listed.contains(&secret), "the secret must never be listed");
    assert!(listed.contains("shop backend"));

    let client = app.anonymous();
    let put = client
        .put(app.url("/v1/subscribers/u-1"))
        .bearer_auth(&secret)
        .json(&json!({ "email": "u1@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.status(),
        StatusCode::CREATED,
        "API keys need no CSRF token"
    );

    let keys: serde_json::Value = admin
        .get("/v1/api-keys")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        keys[0]["last_used_at"].is_string(),
        "last_used_at is tracked: {keys}"
    );
}

#[tokio::test]
async fn scopes_limit_what_a_key_may_do() {
    let app = spawn_app().await;
    let read_only = app.api_key(&["subscribers:read"]).await;
    let client = app.anonymous();
    let list = client
        .get(app.url("/v1/subscribers"))
        .bearer_auth(&read_only)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), StatusCode::OK);

    let put = client
        .put(app.url("/v1/subscribers/u-1"))
        .bearer_auth(&read_only)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let error = error_of(put, 403).await;
    assert_eq!(error["code"], "forbidden");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("subscribers:write")
    );

    // Operator-only routes refuse keys whatever their scopes.
    let operators = client
        .get(app.url("/v1/operators"))
        .bearer_auth(&read_only)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(operators, 403).await["code"], "forbidden");
}

#[tokio::test]
async fn a_revoked_key_stops_working_at_once() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let created: serde_json::Value = admin
        .post("/v1/api-keys")
        .json(&json!({ "name": "to revoke", "scopes": ["subscribers:read"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = created["secret"].as_str().unwrap();
    let id = created["api_key"]["id"].as_i64().unwrap();
    let client = app.anonymous();
    let before = client
        .get(app.url("/v1/subscribers"))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(before.status(), StatusCode::OK);

    let revoked = admin
        .delete(&format!("/v1/api-keys/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let body: serde_json::Value = revoked.json().await.unwrap();
    assert!(body["revoked_at"].is_string());

    let after = client
        .get(app.url("/v1/subscribers"))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(after, 401).await["code"], "invalid_api_key");
}

#[tokio::test]
async fn bad_keys_and_bad_key_requests_are_refused_clearly() {
    let app = spawn_app().await;
    let client = app.anonymous();
    for presented in ["hk_000000000000_nope", "garbage", ""] {
        let response = client
            .get(app.url("/v1/subscribers"))
            .bearer_auth(presented)
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(response, 401).await["code"], "invalid_api_key");
    }
    let admin = app.operator(Role::Admin).await;
    for (body, field) in [
        (
            json!({ "name": "k", "scopes": ["operators:manage"] }),
            "scopes[0]",
        ),
        (json!({ "name": "k", "scopes": ["nope"] }), "scopes[0]"),
        (json!({ "name": "k", "scopes": [] }), "scopes"),
        (
            json!({ "name": "", "scopes": ["subscribers:read"] }),
            "name",
        ),
        (
            json!({ "name": "k", "scopes": ["subscribers:read"], "expires_at": "2000-01-01T00:00:00Z" }),
            "expires_at",
        ),
    ] {
        let response = admin.post("/v1/api-keys").json(&body).send().await.unwrap();
        assert_eq!(error_of(response, 422).await["field"], field, "{body}");
    }
}

/// Another process revoking a key (another API node, the CLI) cannot tell this one's
/// cache: the cache answers for a key only while its check is fresh.
#[tokio::test]
async fn a_cached_key_is_checked_again_once_its_check_is_stale() {
    let app = spawn_app().await;
    let secret = app.api_key(&["subscribers:read"]).await;
    let fresh_for_an_hour = KeyCache::new(Duration::from_secs(3600));
    let always_stale = KeyCache::new(Duration::ZERO);
    let key = fresh_for_an_hour
        .authenticate(&app.db, &secret)
        .await
        .unwrap();
    always_stale.authenticate(&app.db, &secret).await.unwrap();

    api_keys::revoke(&app.db, &AuditContext::new(Actor::System), key.id)
        .await
        .unwrap();
    let cached = fresh_for_an_hour.authenticate(&app.db, &secret).await;
    assert_eq!(cached.unwrap().id, key.id, "answered from the fresh check");
    let checked = always_stale.authenticate(&app.db, &secret).await;
    assert!(matches!(checked, Err(Error::InvalidCredentials)));

    fresh_for_an_hour.forget(key.id);
    let forgotten = fresh_for_an_hour.authenticate(&app.db, &secret).await;
    assert!(matches!(forgotten, Err(Error::InvalidCredentials)));
}
