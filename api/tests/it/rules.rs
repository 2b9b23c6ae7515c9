use herald_core::access::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{error_of, spawn_app};

#[tokio::test]
async fn every_rule_kind_is_stored_and_listed() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let rules = [
        json!({ "name": "3 a day", "scope": "channel", "scope_value": "email", "kind": "frequency_cap",
                "params": { "max": 3, "window": "day", "per": "channel" } }),
        json!({ "name": "rolling", "scope": "category", "scope_value": "marketing", "kind": "frequency_cap",
                "params": { "max": 1, "window": "rolling", "rolling_secs": 3600, "per": "category" } }),
        json!({ "name": "nights", "scope": "global", "kind": "quiet_hours", "exempt_categories": ["security"],
                "params": { "allowed_from": "08:00", "allowed_until": "21:00", "default_timezone": "Europe/Berlin", "action": "defer" } }),
        json!({ "name": "words", "scope": "global", "kind": "keyword", "params": { "words": ["x"] } }),
        json!({ "name": "once a day", "scope": "global", "kind": "dedup", "params": { "window_secs": 86400, "by": "template" } }),
    ];
    for rule in &rules {
        let response = admin.post("/v1/rules").json(rule).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{rule}");
    }
    let listed: Value = admin
        .get("/v1/rules")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "frequency_cap",
            "frequency_cap",
            "quiet_hours",
            "keyword",
            "dedup"
        ]
    );
    assert_eq!(listed[2]["exempt_categories"], json!(["security"]));
    assert_eq!(
        listed[3]["params"]["whole_word"], true,
        "whole_word defaults to true"
    );

    let id = listed[0]["id"].as_i64().unwrap();
    assert_eq!(
        admin
            .delete(&format!("/v1/rules/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        admin
            .get(&format!("/v1/rules/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    let audit: Value = admin
        .get("/v1/audit-log?target_kind=rule")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"rule.create") && actions.contains(&"rule.delete"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn bad_rules_name_the_field() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let quiet = |params: Value| json!({ "name": "q", "scope": "global", "kind": "quiet_hours", "params": params });
    let cases = [
        (
            quiet(
                json!({ "allowed_from": "8am", "allowed_until": "21:00", "default_timezone": "UTC", "action": "defer" }),
            ),
            "params.allowed_from",
        ),
        (
            quiet(
                json!({ "allowed_from": "08:00", "allowed_until": "21:00", "default_timezone": "Moon/Base", "action": "defer" }),
            ),
            "params.default_timezone",
        ),
        (
            json!({ "name": "c", "scope": "global", "kind": "frequency_cap", "params": { "max": 1, "window": "rolling", "per": "channel" } }),
            "params.rolling_secs",
        ),
        (
            json!({ "name": "c", "scope": "global", "kind": "frequency_cap", "params": { "max": 0, "window": "day", "per": "channel" } }),
            "params.max",
        ),
        (
            json!({ "name": "c", "scope": "channel", "kind": "dedup", "params": { "window_secs": 600, "by": "template" } }),
            "scope_value",
        ),
        (
            json!({ "name": "c", "scope": "channel", "scope_value": "fax", "kind": "dedup", "params": { "window_secs": 600, "by": "template" } }),
            "scope_value",
        ),
        (
            json!({ "name": "", "scope": "global", "kind": "dedup", "params": { "window_secs": 600, "by": "template" } }),
            "name",
        ),
    ];
    for (body, field) in cases {
        let response = admin.post("/v1/rules").json(&body).send().await.unwrap();
        assert_eq!(error_of(response, 422).await["field"], field, "{body}");
    }
    let unknown_kind = admin
        .post("/v1/rules")
        .json(&json!({ "name": "c", "scope": "global", "kind": "telepathy", "params": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_kind.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let editor = app.operator(Role::Editor).await;
    let refused = editor
        .post("/v1/rules")
        .json(&cases_first())
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(refused, 403).await["code"], "forbidden");
}

fn cases_first() -> Value {
    json!({ "name": "d", "scope": "global", "kind": "dedup", "params": { "window_secs": 600, "by": "template" } })
}
