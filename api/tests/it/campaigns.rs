use herald_core::access::Role;
use herald_core::campaigns::lifecycle::{Action, Status, next};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, error_of, spawn_app};

/// A template and an audience to point campaigns at; returns the campaign body.
async fn prepare(app: &TestApp, editor: &Session) -> Value {
    let template: Value = editor
        .post("/v1/templates")
        .json(&json!({ "name": "news", "data_keys": ["issue"],
                       "content": { "email": { "subject": "Issue {{ data.issue }}", "text": "Hello" } } }))
        .send().await.unwrap().json().await.unwrap();
    let audience: Value = editor
        .post("/v1/audiences")
        .json(&json!({ "name": "all", "kind": "all" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let _ = app;
    json!({
        "name": "November news", "template_id": template["template"]["id"], "audience_id": audience["id"],
        "channels": ["email"], "schedule": { "kind": "local_time", "date": "2026-12-01", "time": "09:00" },
        "category": "newsletter", "data": { "issue": 7 }
    })
}

async fn create(session: &Session, body: &Value) -> Value {
    let response = session
        .post("/v1/campaigns")
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn act(session: &Session, id: i64, action: &str, comment: &str) -> reqwest::Response {
    session
        .post(&format!("/v1/campaigns/{id}/{action}"))
        .json(&json!({ "comment": comment }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn four_eyes_review_and_history() {
    let app = spawn_app().await;
    let author = app.operator(Role::Admin).await;
    let reviewer = app.operator(Role::Reviewer).await;
    let editor = app.operator(Role::Editor).await;
    let body = prepare(&app, &author).await;
    let campaign = create(&author, &body).await;
    let id = campaign["id"].as_i64().unwrap();
    assert_eq!(campaign["status"], "draft");
    assert_eq!(campaign["schedule"]["kind"], "local_time");

    assert_eq!(
        act(&author, id, "submit", "").await.status(),
        StatusCode::OK
    );
    let own = act(&author, id, "approve", "looks fine").await;
    let error = error_of(own, 403).await;
    assert!(
        error["message"].as_str().unwrap().contains("author"),
        "{error}"
    );
    let no_right = act(&editor, id, "approve", "").await;
    assert_eq!(
        no_right.status(),
        StatusCode::FORBIDDEN,
        "editors do not review"
    );
    let unexplained = act(&reviewer, id, "reject", " ").await;
    assert_eq!(error_of(unexplained, 422).await["field"], "comment");

    let approved: Value = act(&reviewer, id, "approve", "ok to send")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(approved["status"], "approved");
    assert!(approved["approved_by"].is_i64());

    // Editing approved content sends it back to draft and clears the approval.
    let mut changed = body.clone();
    changed["name"] = json!("November news (fixed)");
    let edited: Value = author
        .put(&format!("/v1/campaigns/{id}"))
        .json(&changed)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(edited["status"], "draft");
    assert_eq!(edited["approved_by"], Value::Null);

    let history: Value = reviewer
        .get(&format!("/v1/campaigns/{id}/history"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let steps: Vec<(String, String)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["action"].as_str().unwrap().to_owned(),
                s["to_status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("edit", "draft"),
        ("submit", "in_review"),
        ("approve", "approved"),
        ("edit", "draft"),
    ];
    assert_eq!(steps, expected.map(|(a, s)| (a.to_owned(), s.to_owned())));
    assert_eq!(history[2]["comment"], "ok to send");

    let audit: Value = author
        .get("/v1/audit-log?target_kind=campaign")
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
        actions.contains(&"campaign.approve") && actions.contains(&"campaign.submit"),
        "{actions:?}"
    );
}

/// Drives a new campaign to `status` through the API.
async fn campaign_in(author: &Session, reviewer: &Session, body: &Value, status: Status) -> i64 {
    let id = create(author, body).await["id"].as_i64().unwrap();
    let path: &[(&Session, &str)] = match status {
        Status::Draft => &[],
        Status::InReview => &[(author, "submit")],
        Status::Approved => &[(author, "submit"), (reviewer, "approve")],
        Status::Rejected => &[(author, "submit"), (reviewer, "reject")],
        Status::Scheduled => &[
            (author, "submit"),
            (reviewer, "approve"),
            (author, "schedule"),
        ],
        Status::Paused => &[
            (author, "submit"),
            (reviewer, "approve"),
            (author, "schedule"),
            (author, "pause"),
        ],
        Status::Cancelled => &[(author, "cancel")],
        Status::Running | Status::Completed => {
            unreachable!("only the worker starts and completes campaigns")
        }
    };
    for (session, action) in path {
        let response = act(session, id, action, "because").await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{action} on the way to {status:?}"
        );
    }
    id
}

#[tokio::test]
async fn every_illegal_transition_answers_409_with_the_current_state() {
    let app = spawn_app().await;
    let author = app.operator(Role::Admin).await;
    let reviewer = app.operator(Role::Reviewer).await;
    let body = prepare(&app, &author).await;
    let actions = [
        (Action::Submit, "submit"),
        (Action::Approve, "approve"),
        (Action::Reject, "reject"),
        (Action::Schedule, "schedule"),
        (Action::Pause, "pause"),
        (Action::Resume, "resume"),
        (Action::Cancel, "cancel"),
    ];
    for status in [
        Status::Draft,
        Status::InReview,
        Status::Approved,
        Status::Rejected,
        Status::Scheduled,
        Status::Paused,
        Status::Cancelled,
    ] {
        for (action, name) in actions {
            let id = campaign_in(&author, &reviewer, &body, status).await;
            let session = if matches!(action, Action::Approve | Action::Reject) {
                &reviewer
            } else {
                &author
            };
            let response = act(session, id, name, "because").await;
            match next(status, action) {
                Some(to) => {
                    assert_eq!(response.status(), StatusCode::OK, "{name} from {status:?}");
                    let moved: Value = response.json().await.unwrap();
                    assert_eq!(moved["status"], to.as_str());
                }
                None => {
                    let error = error_of(response, 409).await;
                    assert_eq!(error["code"], "invalid_transition");
                    assert!(
                        error["message"].as_str().unwrap().contains(status.as_str()),
                        "{error}"
                    );
                }
            }
        }
        // Editing: allowed before scheduling, refused after.
        let id = campaign_in(&author, &reviewer, &body, status).await;
        let response = author
            .put(&format!("/v1/campaigns/{id}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let expected = if next(status, Action::Edit).is_some() {
            200
        } else {
            409
        };
        assert_eq!(response.status().as_u16(), expected, "edit from {status:?}");
    }
}

#[tokio::test]
async fn bad_campaigns_name_the_field_and_keywords_block_submission() {
    let app = spawn_app().await;
    let author = app.operator(Role::Admin).await;
    let body = prepare(&app, &author).await;
    let with = |key: &str, value: Value| {
        let mut b = body.clone();
        b[key] = value;
        b
    };
    for (bad, field) in [
        (with("template_id", json!(999)), "template_id"),
        (with("template_version", json!(9)), "template_version"),
        (with("audience_id", json!(999)), "audience_id"),
        (with("channels", json!(["push"])), "channels[0]"),
        (with("channels", json!([])), "channels"),
        (with("data", json!({})), "data.issue"),
        (with("priority", json!(11)), "priority"),
        (
            with("schedule", json!({ "kind": "someday" })),
            "schedule.kind",
        ),
        (
            with("expires_at", json!("2000-01-01T00:00:00Z")),
            "expires_at",
        ),
        // Dates at the calendar's ends made the worker's time arithmetic panic.
        (
            with(
                "schedule",
                json!({ "kind": "local_time", "date": "-262143-01-01", "time": "09:00" }),
            ),
            "schedule.date",
        ),
        (
            with(
                "schedule",
                json!({ "kind": "local_time", "date": "+262142-12-31", "time": "23:59" }),
            ),
            "schedule.date",
        ),
        (
            with(
                "schedule",
                json!({ "kind": "at", "at": "+200000-01-01T00:00:00Z" }),
            ),
            "schedule.at",
        ),
        (
            with("expires_at", json!("+262142-12-31T00:00:00Z")),
            "expires_at",
        ),
    ] {
        let response = author
            .post("/v1/campaigns")
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(response, 422).await["field"], field, "{bad}");
    }

    author
        .post("/v1/rules")
        .json(&json!({ "name": "newsletter words", "scope": "category", "scope_value": "newsletter", "kind": "keyword",
                       "params": { "words": ["hello"] } }))
        .send()
        .await
        .unwrap();
    let id = create(&author, &body).await["id"].as_i64().unwrap();
    let refused = act(&author, id, "submit", "").await;
    assert_eq!(error_of(refused, 422).await["code"], "banned_words");
    let still: Value = author
        .get(&format!("/v1/campaigns/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(still["status"], "draft", "a refused submit changes nothing");
}

#[tokio::test]
async fn what_campaigns_use_cannot_be_deleted_and_the_refusal_names_them() {
    let app = spawn_app().await;
    let author = app.operator(Role::Admin).await;
    let reviewer = app.operator(Role::Reviewer).await;
    author
        .post("/v1/channels")
        .json(
            &json!({ "name": "mail", "settings": { "kind": "smtp", "host": "smtp.example.com" } }),
        )
        .send()
        .await
        .unwrap();
    let body = prepare(&app, &author).await;
    let id = campaign_in(&author, &reviewer, &body, Status::Scheduled).await;
    let audience = body["audience_id"].as_i64().unwrap();

    let refused = author
        .delete(&format!("/v1/audiences/{audience}"))
        .send()
        .await
        .unwrap();
    let error = error_of(refused, 409).await;
    assert_eq!(error["code"], "in_use");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("campaign {id} (November news)")),
        "{message}"
    );
    let still = author
        .get(&format!("/v1/audiences/{audience}"))
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), StatusCode::OK, "the audience is kept");

    // The only email instance, while a scheduled campaign sends email.
    let refused = author.delete("/v1/channels/mail").send().await.unwrap();
    let error = error_of(refused, 409).await;
    assert_eq!(error["code"], "in_use");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains(&format!("campaign {id}"))
    );
    let still = author.get("/v1/channels/mail").send().await.unwrap();
    assert_eq!(still.status(), StatusCode::OK, "the instance is kept");

    // Once the campaign is cancelled, the instance may go (campaigns keep the audience).
    assert_eq!(
        act(&author, id, "cancel", "").await.status(),
        StatusCode::OK
    );
    let deleted = author.delete("/v1/channels/mail").send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
}
