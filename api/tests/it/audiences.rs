use herald_core::access::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Session, error_of, spawn_app};

/// Ten subscribers with varied tags, attributes and zones.
async fn seed(editor: &Session) {
    let zones = ["Europe/Berlin", "Asia/Tokyo", "America/New_York"];
    for i in 0..10 {
        let mut tags = vec![if i % 2 == 0 { "even" } else { "odd" }];
        if i % 3 == 0 {
            tags.push("three");
        }
        let mut attributes =
            json!({ "n": i, "plan": if i < 4 { "pro" } else { "free" }, "beta": i == 7 });
        if i == 5 {
            attributes["nickname"] = json!("the fifth");
            attributes["langs"] = json!(["de", "en"]);
        }
        if i == 9 {
            attributes["n"] = json!("9");
        }
        let mut body = json!({ "tags": tags, "attributes": attributes });
        if i != 8 {
            body["timezone"] = json!(zones[i % 3]);
        }
        let response = editor
            .put(&format!("/v1/subscribers/s{i}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
}

async fn matching(editor: &Session, segment: Value) -> Vec<String> {
    let response = editor
        .post("/v1/segments/preview")
        .json(&json!({ "segment": segment, "sample": 100 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{segment}");
    let body: Value = response.json().await.unwrap();
    let ids: Vec<String> = body["sample"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["external_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        body["count"].as_u64().unwrap() as usize,
        ids.len(),
        "count agrees with the rows"
    );
    ids
}

fn ids(list: &[u32]) -> Vec<String> {
    list.iter().map(|i| format!("s{i}")).collect()
}

#[tokio::test]
async fn every_segment_operator_and_nesting_evaluates_in_sql() {
    let app = spawn_app().await;
    let editor = app.operator(Role::Editor).await;
    seed(&editor).await;
    let attr = |key: &str, op: &str, value: Value| json!({ "attribute": { "key": key, "op": op, "value": value } });
    let cases = [
        (json!({ "tags": { "any": ["three"] } }), ids(&[0, 3, 6, 9])),
        (
            json!({ "tags": { "all": ["even", "three"] } }),
            ids(&[0, 6]),
        ),
        (
            json!({ "tags": { "none": ["even", "three"] } }),
            ids(&[1, 5, 7]),
        ),
        (attr("plan", "eq", json!("pro")), ids(&[0, 1, 2, 3])),
        (attr("n", "eq", json!(9)), ids(&[])),
        (attr("n", "eq", json!("9")), ids(&[9])),
        (attr("beta", "eq", json!(true)), ids(&[7])),
        (attr("plan", "neq", json!("pro")), ids(&[4, 5, 6, 7, 8, 9])),
        (
            attr("nickname", "neq", json!("x")),
            ids(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
        ),
        (attr("n", "in", json!([1, 2, "9"])), ids(&[1, 2, 9])),
        (attr("n", "gt", json!(6)), ids(&[7, 8])),
        (attr("n", "lt", json!(2)), ids(&[0, 1])),
        (attr("nickname", "exists", Value::Null), ids(&[5])),
        (attr("nickname", "contains", json!("fif")), ids(&[5])),
        (attr("langs", "contains", json!("en")), ids(&[5])),
        (
            json!({ "timezone": { "in": ["Asia/Tokyo"] } }),
            ids(&[1, 4, 7]),
        ),
        (
            json!({ "not": { "timezone": { "in": ["Asia/Tokyo"] } } }),
            ids(&[0, 2, 3, 5, 6, 8, 9]),
        ),
        (
            json!({ "all": [{ "tags": { "any": ["odd"] } }, { "any": [attr("plan", "eq", json!("pro")), attr("n", "gt", json!(6))] }] }),
            ids(&[1, 3, 7]),
        ),
        (
            json!({ "any": [{ "all": [attr("n", "lt", json!(3)), { "tags": { "any": ["even"] } }] }, { "not": { "any": [{ "tags": { "any": ["even"] } }, attr("n", "lt", json!(8))] } }] }),
            ids(&[0, 2, 9]),
        ),
        (
            json!({ "created_at": { "before": "2000-01-01T00:00:00Z" } }),
            ids(&[]),
        ),
        (
            json!({ "updated_at": { "after": "2000-01-01T00:00:00Z" } }),
            ids(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
        ),
    ];
    for (segment, expected) in cases {
        assert_eq!(
            matching(&editor, segment.clone()).await,
            expected,
            "{segment}"
        );
    }
}

#[tokio::test]
async fn saved_audiences_count_and_sample() {
    let app = spawn_app().await;
    let editor = app.operator(Role::Editor).await;
    seed(&editor).await;
    let create = |body: Value| editor.post("/v1/audiences").json(&body).send();

    let everyone: Value = create(json!({ "name": "everyone", "kind": "all" }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let count: Value = editor
        .get(&format!("/v1/audiences/{}/count", everyone["id"]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(count["count"], 10);

    let segment = create(json!({ "name": "pros", "kind": "segment",
        "segment": { "attribute": { "key": "plan", "op": "eq", "value": "pro" } } }))
    .await
    .unwrap();
    assert_eq!(segment.status(), StatusCode::CREATED);
    let segment: Value = segment.json().await.unwrap();
    let sample: Value = editor
        .get(&format!("/v1/audiences/{}/sample?limit=2", segment["id"]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sample.as_array().unwrap().len(), 2);

    let list: Value =
        create(json!({ "name": "picked", "kind": "list", "external_ids": ["s1", "s2", "ghost"] }))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(list["member_count"], 3);
    let count: Value = editor
        .get(&format!("/v1/audiences/{}/count", list["id"]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        count["count"], 2,
        "ids without a subscriber are not counted"
    );

    let file: Value = create(json!({ "name": "upload", "kind": "file" }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let upload = editor
        .post(&format!("/v1/audiences/{}/members", file["id"]))
        .header("content-type", "text/csv")
        .body("external_id,comment\ns3,x\ns4\n\ns3\n\"s5\",y\nbad\u{1}id\n")
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), StatusCode::OK);
    let report: Value = upload.json().await.unwrap();
    assert_eq!(report["received"], 5);
    assert_eq!(report["added"], 3);
    assert_eq!(report["member_count"], 3);
    assert_eq!(report["invalid"][0]["line"], 7);
    let count: Value = editor
        .get(&format!("/v1/audiences/{}/count", file["id"]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(count["count"], 3);

    let not_a_list = editor
        .post(&format!("/v1/audiences/{}/members", segment["id"]))
        .body("s1\n")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(not_a_list, 409).await["code"],
        "audience_not_a_list"
    );
}

#[tokio::test]
async fn bad_audiences_and_segments_name_the_field() {
    let app = spawn_app().await;
    let editor = app.operator(Role::Editor).await;
    let attr =
        |op: &str, value: Value| json!({ "attribute": { "key": "n", "op": op, "value": value } });
    let cases = [
        (json!({ "name": "a", "kind": "segment" }), "segment"),
        (json!({ "name": "a", "kind": "list" }), "external_ids"),
        (
            json!({ "name": "a", "kind": "all", "external_ids": ["x"] }),
            "external_ids",
        ),
        (
            json!({ "name": "a", "kind": "segment", "segment": { "all": [] } }),
            "segment.all",
        ),
        (
            json!({ "name": "a", "kind": "segment", "segment": { "all": [attr("gt", json!("ten"))] } }),
            "segment.all[0].attribute.value",
        ),
        (
            json!({ "name": "a", "kind": "segment", "segment": attr("in", json!([])) }),
            "segment.attribute.value",
        ),
        (
            json!({ "name": "a", "kind": "segment", "segment": { "attribute": { "key": "9x", "op": "exists" } } }),
            "segment.attribute.key",
        ),
        (
            json!({ "name": "a", "kind": "segment", "segment": { "tags": { "any": [] } } }),
            "segment.tags",
        ),
        (
            json!({ "name": "a", "kind": "segment", "segment": { "created_at": {} } }),
            "segment",
        ),
    ];
    for (body, field) in cases {
        let response = editor
            .post("/v1/audiences")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(response, 422).await["field"], field, "{body}");
    }
    let mut deep = json!({ "tags": { "any": ["x"] } });
    for _ in 0..10 {
        deep = json!({ "not": deep });
    }
    let response = editor
        .post("/v1/segments/preview")
        .json(&json!({ "segment": deep }))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response, 422).await["code"], "validation_failed");
}
