//! Four-eyes review bound to what was reviewed (issue 17), one test per way around it:
//! the reviewer never edited or submitted the campaign, whatever their role; a change
//! after approval, to the campaign or to what it points at, returns it to draft before
//! anything is sent; a list or file audience is sent as it stood at approval.

use chrono::Utc;
use herald_core::access::Role;
use herald_core::campaigns::dispatch::start_due;
use herald_core::campaigns::pages::cut_pages;
use herald_core::entities::{audience, campaign, delivery, message, subscriber, template_version};
use herald_worker::deliver::Deliverer;
use reqwest::Method;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::delivery_send::{ping, receiver, setup};
use crate::helpers::receiver::Receiver;
use crate::helpers::{Session, TestApp, error_of, spawn_app, test_config};

/// An app with a webhook channel, a template, and subscribers with a webhook endpoint
/// each; an editor who writes campaigns, a second admin and a reviewer.
struct Review {
    app: TestApp,
    admin: Session,
    editor: Session,
    reviewer: Session,
    template_id: i64,
    seen: Receiver,
}

async fn review_with(people: &[&str]) -> Review {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (base, seen) = receiver().await;
    let endpoints: Vec<(&str, String)> =
        people.iter().map(|p| (*p, format!("{base}/ok"))).collect();
    let template_id = setup(&admin, ping(r#"{"hello": "you"}"#), &endpoints).await;
    Review {
        editor: app.operator(Role::Editor).await,
        reviewer: app.operator(Role::Reviewer).await,
        app,
        admin,
        template_id,
        seen,
    }
}

impl Review {
    async fn audience(&self, body: Value) -> i64 {
        self.admin.ok(Method::POST, "/v1/audiences", &body).await["id"]
            .as_i64()
            .unwrap()
    }

    /// The body of a webhook campaign to `audience_id`, sent now.
    fn campaign_body(&self, audience_id: i64) -> Value {
        json!({ "name": "launch", "template_id": self.template_id, "audience_id": audience_id,
                "channels": ["webhook"], "schedule": { "kind": "now" }, "category": "news" })
    }

    /// A draft written by the editor.
    async fn draft(&self, audience_id: i64) -> i64 {
        let body = self.campaign_body(audience_id);
        self.editor.ok(Method::POST, "/v1/campaigns", &body).await["id"]
            .as_i64()
            .unwrap()
    }

    /// A campaign the editor wrote and submitted and the reviewer approved.
    async fn approved(&self, audience_id: i64) -> i64 {
        let id = self.draft(audience_id).await;
        self.ok(&self.editor, id, "submit").await;
        self.ok(&self.reviewer, id, "approve").await;
        id
    }

    async fn act(&self, session: &Session, id: i64, action: &str) -> reqwest::Response {
        session
            .post(&format!("/v1/campaigns/{id}/{action}"))
            .json(&json!({ "comment": "because" }))
            .send()
            .await
            .unwrap()
    }

    async fn ok(&self, session: &Session, id: i64, action: &str) -> Value {
        let response = self.act(session, id, action).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{action}: {status} {body}");
        body
    }

    async fn campaign(&self, id: i64) -> Value {
        self.admin.get_json(&format!("/v1/campaigns/{id}")).await
    }

    async fn history(&self, id: i64) -> Vec<String> {
        let steps = self
            .admin
            .get_json(&format!("/v1/campaigns/{id}/history"))
            .await;
        steps
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["action"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Runs worker rounds until nothing is left to do.
    async fn run_worker(&self) {
        let deliverer = Deliverer::new(self.app.db.clone(), &test_config())
            .await
            .unwrap();
        while deliverer.run_once(Utc::now()).await.unwrap() != Default::default() {}
    }

    /// The external ids the campaign has deliveries for, sorted.
    async fn recipients(&self, campaign_id: i64) -> Vec<String> {
        let Some(message) = message::Entity::find()
            .filter(message::Column::CampaignId.eq(campaign_id))
            .one(&self.app.db)
            .await
            .unwrap()
        else {
            return Vec::new();
        };
        let ids: Vec<i64> = delivery::Entity::find()
            .filter(delivery::Column::MessageId.eq(message.id))
            .all(&self.app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.subscriber_id)
            .collect();
        let mut names: Vec<String> = subscriber::Entity::find()
            .filter(subscriber::Column::Id.is_in(ids))
            .all(&self.app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.external_id)
            .collect();
        names.sort();
        names
    }

    fn sent(&self) -> usize {
        self.seen.ids("ok").len()
    }
}

#[tokio::test]
async fn an_admin_who_edited_a_campaign_cannot_review_it() {
    let review = review_with(&["ana"]).await;
    let everyone = review
        .audience(json!({ "name": "all", "kind": "all" }))
        .await;
    let id = review.draft(everyone).await;
    // A second admin edits the editor's draft, then tries to approve it.
    let mut edited = review.campaign_body(everyone);
    edited["priority"] = json!(9);
    review
        .admin
        .ok(Method::PUT, &format!("/v1/campaigns/{id}"), &edited)
        .await;
    review.ok(&review.editor, id, "submit").await;
    for action in ["approve", "reject"] {
        let refused = review.act(&review.admin, id, action).await;
        assert_eq!(error_of(refused, 403).await["code"], "reviewer_is_editor");
    }
    let approved = review.ok(&review.reviewer, id, "approve").await;
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["approved_hash"].as_str().unwrap().len(), 64);
}

#[tokio::test]
async fn whoever_submitted_a_campaign_cannot_approve_it() {
    let review = review_with(&["ana"]).await;
    let everyone = review
        .audience(json!({ "name": "all", "kind": "all" }))
        .await;
    let id = review.draft(everyone).await;
    review.ok(&review.admin, id, "submit").await;
    let refused = review.act(&review.admin, id, "approve").await;
    assert_eq!(
        error_of(refused, 403).await["code"],
        "reviewer_is_submitter"
    );
    assert_eq!(review.campaign(id).await["status"], "in_review");
    review.ok(&review.reviewer, id, "approve").await;
}

#[tokio::test]
async fn a_change_after_approval_returns_the_campaign_to_draft_before_anything_is_sent() {
    let review = review_with(&["ana", "ben"]).await;
    let everyone = review
        .audience(json!({ "name": "all", "kind": "all" }))
        .await;
    let id = review.approved(everyone).await;

    // Through the API: an edit sends it back to draft, and it cannot be scheduled.
    let mut edited = review.campaign_body(everyone);
    edited["data"] = json!({ "offer": "50%" });
    let draft = review
        .editor
        .ok(Method::PUT, &format!("/v1/campaigns/{id}"), &edited)
        .await;
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["approved_hash"], Value::Null);
    let refused = review.act(&review.editor, id, "schedule").await;
    assert_eq!(error_of(refused, 409).await["code"], "invalid_transition");

    // Reviewed again and scheduled; then its row is changed behind the API's back. The
    // worker does not start it: it is a draft again, and nothing is sent.
    review.ok(&review.editor, id, "submit").await;
    review.ok(&review.reviewer, id, "approve").await;
    review.ok(&review.editor, id, "schedule").await;
    let row = campaign::Entity::find_by_id(id)
        .one(&review.app.db)
        .await
        .unwrap()
        .unwrap();
    let mut changed: campaign::ActiveModel = row.into();
    changed.data = Set(json!({ "offer": "90%" }));
    changed.update(&review.app.db).await.unwrap();
    review.run_worker().await;
    assert_eq!(review.campaign(id).await["status"], "draft");
    assert_eq!(review.history(id).await.last().unwrap(), "invalidate");
    assert_eq!(review.recipients(id).await, Vec::<String>::new());
    assert_eq!(review.sent(), 0);
    let refused = review.act(&review.editor, id, "schedule").await;
    assert_eq!(error_of(refused, 409).await["code"], "invalid_transition");
}

#[tokio::test]
async fn a_changed_template_version_invalidates_the_approval() {
    let review = review_with(&["ana"]).await;
    let everyone = review
        .audience(json!({ "name": "all", "kind": "all" }))
        .await;

    // Campaigns pin the version they were approved with: a new version changes nothing.
    let pinned = review.approved(everyone).await;
    review
        .admin
        .ok(
            Method::POST,
            &format!("/v1/templates/{}/versions", review.template_id),
            &json!({ "content": { "webhook": { "payload": r#"{"new": true}"# } } }),
        )
        .await;
    review.ok(&review.editor, pinned, "schedule").await;
    review.run_worker().await;
    assert_eq!(review.campaign(pinned).await["status"], "completed");
    assert_eq!(review.sent(), 1);

    // The approved version's content itself changed (only possible in the database):
    // scheduling finds it and returns the campaign to draft.
    let id = review.approved(everyone).await;
    let number = review.campaign(id).await["template_version"]
        .as_i64()
        .unwrap() as i32;
    assert_eq!(number, 2, "the latest when the campaign was written");
    let version = template_version::Entity::find()
        .filter(template_version::Column::TemplateId.eq(review.template_id))
        .filter(template_version::Column::Version.eq(number))
        .one(&review.app.db)
        .await
        .unwrap()
        .unwrap();
    let mut content = version.content;
    content["webhook"]["payload"] = json!(r#"{"changed": true}"#);
    template_version::Entity::update_many()
        .col_expr(template_version::Column::Content, Expr::value(content))
        .filter(template_version::Column::Id.eq(version.id))
        .exec(&review.app.db)
        .await
        .unwrap();
    let refused = review.act(&review.editor, id, "schedule").await;
    assert_eq!(error_of(refused, 409).await["code"], "approval_invalidated");
    let campaign = review.campaign(id).await;
    assert_eq!(campaign["status"], "draft");
    assert_eq!(campaign["approved_hash"], Value::Null);
    review.run_worker().await;
    assert_eq!(review.sent(), 1, "nothing more was sent");
}

#[tokio::test]
async fn list_and_file_audiences_are_sent_as_they_stood_at_approval() {
    let review = review_with(&["ana", "ben", "cem", "dan"]).await;
    let list = review
        .audience(json!({ "name": "list", "kind": "list", "external_ids": ["ana", "ben"] }))
        .await;
    let file = review
        .audience(json!({ "name": "file", "kind": "file" }))
        .await;
    upload(&review.admin, file, "ana\nben\n").await;

    for audience_id in [list, file] {
        let id = review.approved(audience_id).await;
        upload(&review.admin, audience_id, "cem\ndan\n").await;
        review.ok(&review.editor, id, "schedule").await;
        review.run_worker().await;
        assert_eq!(review.campaign(id).await["status"], "completed");
        assert_eq!(review.recipients(id).await, ["ana", "ben"]);
    }
    assert_eq!(review.sent(), 4, "two approved members, twice");
}

async fn upload(admin: &Session, audience_id: i64, ids: &str) {
    let response = admin
        .post(&format!("/v1/audiences/{audience_id}/members"))
        .header("content-type", "text/plain")
        .body(ids.to_owned())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

#[tokio::test]
async fn an_audience_definition_changed_after_approval_invalidates_it() {
    let review = review_with(&["ana", "ben"]).await;
    review
        .admin
        .ok(
            Method::PUT,
            "/v1/subscribers/ana",
            &json!({ "tags": ["vip"] }),
        )
        .await;
    let vips = review
        .audience(json!({ "name": "vips", "kind": "segment",
                          "segment": { "tags": { "any": ["vip"] } } }))
        .await;
    let id = review.approved(vips).await;
    review.ok(&review.editor, id, "schedule").await;
    assert_eq!(start_due(&review.app.db, Utc::now()).await.unwrap(), [id]);

    // The segment is widened to everyone between the start and the planning.
    let row = audience::Entity::find_by_id(vips)
        .one(&review.app.db)
        .await
        .unwrap()
        .unwrap();
    let mut changed: audience::ActiveModel = row.into();
    changed.segment = Set(Some(json!({ "not": { "tags": { "any": ["nobody"] } } })));
    changed.update(&review.app.db).await.unwrap();
    let pages = cut_pages(&review.app.db, Utc::now()).await.unwrap();
    assert_eq!(pages, 0);
    assert_eq!(review.campaign(id).await["status"], "draft");
    assert_eq!(review.history(id).await.last().unwrap(), "invalidate");
    review.run_worker().await;
    assert_eq!(review.recipients(id).await, Vec::<String>::new());
    assert_eq!(review.sent(), 0);
}
