use herald_core::access::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{error_of, spawn_app};

#[tokio::test]
async fn entries_are_normalised_validated_listed_and_deleted() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let add = |body: Value| admin.post("/v1/list-entries").json(&body).send();
    let email: Value = add(json!({ "list": "block", "kind": "email", "value": " Spam@Example.COM ", "reason": "complaint" }))
        .await.unwrap().json().await.unwrap();
    assert_eq!(email["value"], "spam@example.com");
    let domain: Value = add(json!({ "list": "block", "kind": "email_domain", "value": "@Mailinator.com", "channel": "email",
                                     "expires_at": "2999-01-01T00:00:00Z" })).await.unwrap().json().await.unwrap();
    assert_eq!(domain["value"], "mailinator.com");
    assert_eq!(domain["channel"], "email");
    let allow = add(json!({ "list": "allow", "kind": "subscriber", "value": "ceo" }))
        .await
        .unwrap();
    assert_eq!(allow.status(), StatusCode::CREATED);

    for (body, field) in [
        (
            json!({ "list": "block", "kind": "email", "value": "nope" }),
            "value",
        ),
        (
            json!({ "list": "block", "kind": "phone", "value": "12345" }),
            "value",
        ),
        (
            json!({ "list": "block", "kind": "email_domain", "value": "localhost" }),
            "value",
        ),
        (
            json!({ "list": "block", "kind": "email", "value": "a@b.co", "expires_at": "2000-01-01T00:00:00Z" }),
            "expires_at",
        ),
        (
            json!({ "list": "grey", "kind": "email", "value": "a@b.co" }),
            "list",
        ),
        (
            json!({ "list": "block", "kind": "email", "value": "a@b.co", "channel": "fax" }),
            "channel",
        ),
    ] {
        assert_eq!(
            error_of(add(body.clone()).await.unwrap(), 422).await["field"],
            field,
            "{body}"
        );
    }

    let blocks: Value = admin
        .get("/v1/list-entries?list=block")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(blocks["items"].as_array().unwrap().len(), 2);
    let found: Value = admin
        .get("/v1/list-entries?value=SPAM@example.com")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["items"][0]["id"], email["id"]);

    let deleted = admin
        .delete(&format!("/v1/list-entries/{}", email["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let audit: Value = admin
        .get("/v1/audit-log?target_kind=list_entry")
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
        actions.contains(&"list_entry.create") && actions.contains(&"list_entry.delete"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn csv_import_stores_good_rows_and_reports_bad_ones() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let body = "list,kind,value,channel,reason,expires_at\n\
                block,email,a@example.com,,bounced,\n\
                block,phone,+15551234567,push,,2999-01-01T00:00:00Z\n\
                block,email,not-an-email,,,\n\
                maybe,email,b@example.com,,,\n\
                allow,email_domain,partner.example,,vip,\n";
    let response = admin
        .post("/v1/list-entry-imports")
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let report: Value = response.json().await.unwrap();
    assert_eq!(
        (
            report["received"].as_u64(),
            report["imported"].as_u64(),
            report["failed"].as_u64()
        ),
        (Some(5), Some(3), Some(2)),
        "{report}"
    );
    assert_eq!(report["errors"][0]["line"], 4);
    assert_eq!(report["errors"][0]["field"], "value");
    assert_eq!(report["errors"][1]["line"], 5);
    let all: Value = admin
        .get("/v1/list-entries")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
}
