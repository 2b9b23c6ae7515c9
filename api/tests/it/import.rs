use herald_core::access::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{error_of, spawn_app, spawn_app_with};

async fn import(
    app: &crate::helpers::TestApp,
    key: &str,
    content_type: &str,
    body: String,
) -> reqwest::Response {
    app.anonymous()
        .post(app.url("/v1/subscriber-imports"))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn json_lines_with_mixed_rows_store_the_good_and_name_the_bad() {
    let app = spawn_app().await;
    let key = app
        .api_key(&["subscribers:write", "subscribers:read"])
        .await;
    let body = [
        r#"{"external_id":"a","email":"a@example.com","tags":["vip"]}"#,
        r#"{"external_id":"b","email":"not an email"}"#,
        "",
        r#"{"external_id":"c","timezone":"Nowhere/Land"}"#,
        r#"{"email":"missing-id@example.com"}"#,
        r#"this is not json"#,
        r#"{"external_id":"d","colour":"red"}"#,
        r#"{"external_id":"e","phone":"+15551234567"}"#,
        r#"{"external_id":"a","email":"a2@example.com"}"#,
    ]
    .join("\n");
    let response = import(&app, &key, "application/x-ndjson", body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["received"], 8);
    assert_eq!(report["imported"], 3, "{report}");
    assert_eq!(report["failed"], 5);
    let errors: Vec<(u64, String)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (2, "email".into()),
            (4, "timezone".into()),
            (5, "external_id".into()),
            (6, "row".into()),
            (7, "colour".into())
        ]
    );
    let client = app.anonymous();
    let a: Value = client
        .get(app.url("/v1/subscribers/a"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        a["email"], "a2@example.com",
        "the later row for the same id wins"
    );
    assert_eq!(
        client
            .get(app.url("/v1/subscribers/b"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn csv_with_mixed_rows_and_typed_attributes() {
    let app = spawn_app().await;
    let key = app
        .api_key(&["subscribers:write", "subscribers:read"])
        .await;
    let body = "external_id,email,timezone,tags,attributes.plan,attributes.seats\n\
                c1,c1@example.com,Europe/Paris,vip;beta,pro,12\n\
                c2,broken,,,,\n\
                c3,,,,free,\n\
                ,nobody@example.com,,,,\n"
        .to_owned();
    let report: Value = import(&app, &key, "text/csv", body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (report["imported"].as_u64(), report["failed"].as_u64()),
        (Some(2), Some(2)),
        "{report}"
    );
    assert_eq!(report["errors"][0]["line"], 3);
    assert_eq!(report["errors"][0]["field"], "email");
    assert_eq!(report["errors"][1]["line"], 5);
    assert_eq!(report["errors"][1]["field"], "external_id");
    let c1: Value = app
        .anonymous()
        .get(app.url("/v1/subscribers/c1"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(c1["tags"], json!(["vip", "beta"]));
    assert_eq!(c1["attributes"], json!({ "plan": "pro", "seats": 12 }));
}

#[tokio::test]
async fn a_csv_with_an_unknown_column_is_refused_before_anything_is_stored() {
    let app = spawn_app().await;
    let key = app
        .api_key(&["subscribers:write", "subscribers:read"])
        .await;
    let response = import(
        &app,
        &key,
        "text/csv",
        "external_id,favourite_colour\nx,red\n".into(),
    )
    .await;
    let error = error_of(response, 422).await;
    assert_eq!(error["field"], "header");
    let list: Value = app
        .anonymous()
        .get(app.url("/v1/subscribers"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn one_hundred_thousand_rows_in_one_request() {
    let app = spawn_app().await;
    let session = app.operator(Role::Editor).await;
    let rows = 100_000;
    let mut body = String::with_capacity(rows * 80);
    for i in 0..rows {
        body.push_str(&format!(
            "{{\"external_id\":\"bulk-{i}\",\"email\":\"user{i}@example.com\",\"tags\":[\"t{}\"]}}\n",
            i % 10
        ));
    }
    let response = session
        .post("/v1/subscriber-imports")
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["imported"], rows as u64);
    assert_eq!(report["failed"], 0);
    let last: Value = session
        .get("/v1/subscribers/bulk-99999")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(last["email"], "user99999@example.com");
}

#[tokio::test]
async fn imports_refuse_other_media_types_and_oversized_bodies() {
    let app = spawn_app_with(|config| {
        config.http.body_limit_bytes = 1024;
        config.http.import_body_limit_bytes = 4096;
    })
    .await;
    let key = app.api_key(&["subscribers:write"]).await;
    let wrong = import(&app, &key, "application/xml", "<x/>".into()).await;
    assert_eq!(error_of(wrong, 415).await["code"], "unsupported_media_type");
    let big = "{\"external_id\":\"x\"}\n".repeat(1000);
    let response = import(&app, &key, "application/x-ndjson", big).await;
    assert_eq!(error_of(response, 413).await["code"], "payload_too_large");
}

#[tokio::test]
async fn every_bulk_upload_is_size_limited_while_it_streams() {
    let app = spawn_app_with(|config| {
        config.http.body_limit_bytes = 1024;
        config.http.import_body_limit_bytes = 4096;
    })
    .await;
    let admin = app.operator(Role::Admin).await;
    let audience: Value = admin
        .post("/v1/audiences")
        .json(&json!({ "name": "file", "kind": "file" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids = "someone\n".repeat(1000);
    let entries = format!(
        "list,kind,value\n{}",
        "block,email,a@example.com\n".repeat(300)
    );
    for (path, content_type, body) in [
        (
            format!("/v1/audiences/{}/members", audience["id"]),
            "text/plain",
            ids,
        ),
        ("/v1/list-entry-imports".to_owned(), "text/csv", entries),
    ] {
        // A chunked body has no Content-Length: the limit must hold while streaming.
        let chunks = futures::stream::iter(
            body.into_bytes()
                .chunks(512)
                .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
                .collect::<Vec<_>>(),
        );
        let response = admin
            .post(&path)
            .header("content-type", content_type)
            .body(reqwest::Body::wrap_stream(chunks))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 413, "{path}");
        assert_eq!(error_of(response, 413).await["code"], "payload_too_large");
    }
}
