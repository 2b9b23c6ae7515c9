use herald_core::access::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Session, error_of, spawn_app};

fn welcome() -> Value {
    json!({
        "name": "welcome",
        "description": "first contact",
        "data_keys": ["order"],
        "content": {
            "inbox": { "title": "Hi {{ subscriber.attributes.first_name }}", "body": "Order {{ data.order }}" },
            "email": {
                "subject": "Welcome, {{ subscriber.email }}",
                "html": "<p>Hello {{ subscriber.attributes.first_name }}</p>",
                "text": "Hello {{ subscriber.attributes.first_name }}"
            }
        }
    })
}

async fn create(editor: &Session, body: &Value) -> reqwest::Response {
    editor
        .post("/v1/templates")
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn templates_are_versioned_and_previewed() {
    let app = spawn_app().await;
    let editor = app.operator(Role::Editor).await;
    let created = create(&editor, &welcome()).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let body: Value = created.json().await.unwrap();
    let id = body["template"]["id"].as_i64().unwrap();
    assert_eq!(body["latest"]["version"], 1);

    let duplicate = create(&editor, &welcome()).await;
    assert_eq!(
        error_of(duplicate, 409).await["code"],
        "template_name_taken"
    );

    let mut v2 = welcome()["content"].clone();
    v2["inbox"]["title"] = json!("Welcome back {{ subscriber.attributes.first_name }}");
    let second = editor
        .post(&format!("/v1/templates/{id}/versions"))
        .json(&json!({ "content": v2, "data_keys": ["order"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::CREATED);
    let history: Value = editor
        .get(&format!("/v1/templates/{id}/versions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let numbers: Vec<i64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [2, 1]);
    let first: Value = editor
        .get(&format!("/v1/templates/{id}/versions/1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        first["content"]["inbox"]["title"], "Hi {{ subscriber.attributes.first_name }}",
        "old versions stay"
    );

    editor
        .put("/v1/subscribers/ada")
        .json(&json!({ "email": "ada@example.com", "attributes": { "first_name": "Ada <3" } }))
        .send()
        .await
        .unwrap();
    let preview: Value = editor
        .post(&format!("/v1/templates/{id}/versions/2/preview"))
        .json(&json!({ "subscriber": "ada", "data": { "order": 42 } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(preview["inbox"]["title"], "Welcome back Ada <3");
    assert_eq!(preview["inbox"]["body"], "Order 42");
    assert_eq!(preview["email"]["subject"], "Welcome, ada@example.com");
    assert_eq!(
        preview["email"]["html"], "<p>Hello Ada &lt;3</p>",
        "HTML parts escape values"
    );

    let sample: Value = editor
        .post(&format!("/v1/templates/{id}/versions/1/preview"))
        .json(&json!({ "sample": { "email": "s@example.com", "attributes": { "first_name": "Sam" } }, "data": { "order": 1 } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sample["inbox"]["title"], "Hi Sam");

    // Strict rendering: a missing attribute is an error naming the part, not an empty string.
    let missing = editor
        .post(&format!("/v1/templates/{id}/versions/1/preview"))
        .json(&json!({ "sample": { "email": "s@example.com" }, "data": { "order": 1 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(missing, 422).await["field"], "content.inbox.title");
}

#[tokio::test]
async fn a_draft_is_previewed_with_the_checks_of_saving_and_nothing_is_stored() {
    let app = spawn_app().await;
    let editor = app.operator(Role::Editor).await;
    editor
        .put("/v1/subscribers/ada")
        .json(&json!({ "attributes": { "first_name": "Ada" } }))
        .send()
        .await
        .unwrap();
    let draft = |title: &str, data_keys: Value| {
        json!({ "content": { "inbox": { "title": title, "body": "Order {{ data.order }}" } },
                "data_keys": data_keys, "subscriber": "ada", "data": { "order": 7 } })
    };
    let rendered: Value = editor
        .post("/v1/templates/preview")
        .json(&draft(
            "Hi {{ subscriber.attributes.first_name }}",
            json!(["order"]),
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rendered["inbox"]["title"], "Hi Ada");
    assert_eq!(rendered["inbox"]["body"], "Order 7");

    // An undeclared data key is refused as saving would refuse it, naming the part.
    let undeclared = editor
        .post("/v1/templates/preview")
        .json(&draft("Hi", json!([])))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(undeclared, 422).await["field"],
        "content.inbox.body"
    );
    let broken = editor
        .post("/v1/templates/preview")
        .json(&draft("Hi {{ subscriber.", json!(["order"])))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(broken, 422).await["field"], "content.inbox.title");

    let templates: Value = editor.get_json("/v1/templates").await;
    assert_eq!(templates, json!([]), "nothing saved");
}

#[tokio::test]
async fn saving_reports_syntax_errors_and_unknown_variables_with_part_and_line() {
    let app = spawn_app().await;
    let editor = app.operator(Role::Editor).await;
    let cases = [
        (
            json!({ "email": { "subject": "ok", "html": "<p>\n{% if %}\n</p>" } }),
            "content.email.html",
            "line 2",
        ),
        (
            json!({ "inbox": { "title": "x", "body": "a\nb\n{{ subscriber.emial }}" } }),
            "content.inbox.body",
            "line 3: unknown variable `subscriber.emial`",
        ),
        (
            json!({ "push": { "title": "{{ data.order }}" } }),
            "content.push.title",
            "data_keys",
        ),
        (
            json!({ "webhook": { "payload": "{\"a\": {{ user.id }} }" } }),
            "content.webhook.payload",
            "`user.id`",
        ),
        (json!({}), "content", "at least one channel"),
        (
            json!({ "email": { "subject": "no body" } }),
            "content.email",
            "html or a text",
        ),
        (
            json!({ "fax": { "body": "x" } }),
            "content.fax",
            "unknown field",
        ),
    ];
    for (content, field, message) in cases {
        let body = json!({ "name": "t", "content": content });
        let error = error_of(create(&editor, &body).await, 422).await;
        assert_eq!(error["field"], field, "{body}");
        assert!(
            error["message"].as_str().unwrap().contains(message),
            "{error}"
        );
    }
    let list: Value = editor
        .get("/v1/templates")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list, json!([]), "nothing refused was stored");
}

#[tokio::test]
async fn keyword_rules_block_content_at_save() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let rule: Value = admin
        .post("/v1/rules")
        .json(
            &json!({ "name": "spam words", "scope": "global", "kind": "keyword",
                       "params": { "words": ["free money", "Viagra"], "whole_word": true } }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let push_only = admin
        .post("/v1/rules")
        .json(&json!({ "name": "push shouting", "scope": "channel", "scope_value": "push", "kind": "keyword",
                       "params": { "words": ["URGENT"] } }))
        .send()
        .await
        .unwrap();
    assert_eq!(push_only.status(), StatusCode::CREATED);

    let spam = json!({ "name": "spam", "content": { "email": { "subject": "Get FREE money", "text": "and viagra" } } });
    let error = error_of(create(&admin, &spam).await, 422).await;
    assert_eq!(error["code"], "banned_words");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("free money") && message.contains("Viagra"),
        "{message}"
    );

    let class = json!({ "name": "class", "content": { "email": { "subject": "A classy viagraphic", "text": "x" } } });
    assert_eq!(
        create(&admin, &class).await.status(),
        StatusCode::CREATED,
        "whole words only"
    );

    let urgent_email = json!({ "name": "urgent-mail", "content": { "email": { "subject": "URGENT", "text": "x" } } });
    assert_eq!(
        create(&admin, &urgent_email).await.status(),
        StatusCode::CREATED,
        "the push rule ignores email"
    );
    let urgent_push =
        json!({ "name": "urgent-push", "content": { "push": { "title": "urgent!" } } });
    assert_eq!(
        error_of(create(&admin, &urgent_push).await, 422).await["code"],
        "banned_words"
    );

    // A disabled rule no longer blocks.
    let id = rule["id"].as_i64().unwrap();
    let disabled = admin
        .put(&format!("/v1/rules/{id}"))
        .json(
            &json!({ "name": "spam words", "scope": "global", "kind": "keyword", "enabled": false,
                       "params": { "words": ["free money", "Viagra"] } }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), StatusCode::OK);
    assert_eq!(create(&admin, &spam).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_preview_that_would_run_away_is_refused_with_the_part_and_line() {
    let app = spawn_app().await;
    let viewer = app.operator(Role::Viewer).await;
    let preview = |body: &str| json!({ "content": { "inbox": { "title": "Hi", "body": body } }, "sample": {} });
    for (body, says) in [
        (
            "ok\n{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "fuel",
        ),
        (
            "{% macro down(n) %}{{ down(n + 1) }}{% endmacro %}\n{{ down(0) }}",
            "recursion",
        ),
        ("{{ 'x' * 100000000 }}", "exceeds 524288 bytes"),
    ] {
        let response = viewer
            .post("/v1/templates/preview")
            .json(&preview(body))
            .send()
            .await
            .unwrap();
        let error = error_of(response, 422).await;
        assert_eq!(error["field"], "content.inbox.body", "{body}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
        assert!(message.starts_with("line "), "{body}: {message}");
    }
}
