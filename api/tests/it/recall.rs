//! Recall: a sent message leaves every inbox it reached, live connections are told on
//! each transport, a resume never shows it again, and the report says what other
//! channels delivered beyond reach.

use chrono::Utc;
use herald_core::access::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::receiver::{Answer, Receiver};
use crate::helpers::{Session, TestApp, error_of, webhook_channel};
use crate::inbox_stream::{EventReader, app_with, frame, socket, token};

/// A product-signed token for `external_id`, valid for ten minutes.
pub(crate) fn token_for(external_id: &str) -> String {
    token(external_id, Utc::now().timestamp() + 600)
}

/// An inbox template that reads nothing of the subscriber; answers its id.
async fn hello_template(admin: &Session) -> i64 {
    let template = admin
        .ok(
            Method::POST,
            "/v1/templates",
            &json!({ "name": "news", "content": { "inbox": { "title": "Hello" } } }),
        )
        .await;
    template["template"]["id"].as_i64().unwrap()
}

/// `GET /v1/inbox` as `external_id`.
pub(crate) async fn inbox_of(app: &TestApp, external_id: &str) -> Value {
    app.anonymous()
        .get(app.url("/v1/inbox"))
        .bearer_auth(token_for(external_id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn recall(app: &TestApp, key: &str, id: i64) -> reqwest::Response {
    app.anonymous()
        .post(app.url(&format!("/v1/messages/{id}/recall")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recalled_message_leaves_every_inbox_on_every_transport_and_the_report_says_what_went_elsewhere()
 {
    let app = app_with(&["ana", "ben", "cy"]).await;
    let admin = app.operator(Role::Admin).await;
    let receiver = Receiver::start(|_, _| Answer::ok()).await;
    webhook_channel(&admin).await;
    for id in ["ana", "ben"] {
        admin
            .ok(
                Method::POST,
                &format!("/v1/subscribers/{id}/endpoints"),
                &json!({ "channel": "webhook", "address": receiver.url("hook") }),
            )
            .await;
    }
    let key = app.api_key(&["messages:send"]).await;
    let send = |body: Value| {
        let request = app
            .anonymous()
            .post(app.url("/v1/messages"))
            .bearer_auth(&key)
            .json(&body);
        async move {
            let answer = request.send().await.unwrap();
            assert_eq!(answer.status().as_u16(), 202);
            answer.json::<Value>().await.unwrap()["id"]
                .as_i64()
                .unwrap()
        }
    };
    // One message that stays, one that will be recalled.
    send(
        json!({ "recipients": ["ana", "ben", "cy"], "channels": ["inbox"], "category": "news",
        "content": { "inbox": { "title": "Welcome" } } }),
    )
    .await;
    let mut ana_sse = EventReader::open(&app, &token_for("ana"), None).await;
    let mut ben_ws = socket(&app, &token_for("ben"), 0).await;
    let wrong = send(
        json!({ "recipients": ["ana", "ben", "cy"], "channels": ["inbox", "webhook"],
        "category": "news", "content": { "inbox": { "title": "Wrong price" },
        "webhook": { "payload": "{\"price\": 1}" } } }),
    )
    .await;
    app.deliverer().await.run_once(Utc::now()).await.unwrap();
    assert_eq!(receiver.count(), 2, "the webhook went to ana and ben");
    let ana_item = ana_sse.next_message().await;
    let ben_item = loop {
        let next = frame(&mut ben_ws).await;
        if next["event"] == "message" && next["item"]["title"] == "Wrong price" {
            break next["id"].as_i64().unwrap();
        }
    };
    // Ben has read his; Cy waits on a long-poll after hers.
    let ben_read: Value = app
        .anonymous()
        .post(app.url(&format!("/v1/inbox/{ben_item}/read")))
        .bearer_auth(token_for("ben"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cy_before = inbox_of(&app, "cy").await;
    assert_eq!(cy_before["unread"]["count"], 2);
    let cy_item = cy_before["items"][0]["id"].as_i64().unwrap();
    let cy_poll = app
        .anonymous()
        .get(app.url(&format!("/v1/inbox/poll?after={cy_item}&timeout=30")))
        .bearer_auth(token_for("cy"))
        .send();
    let cy_poll = tokio::spawn(cy_poll);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // Another product cannot recall it.
    let other = app.api_key(&["messages:send"]).await;
    assert_eq!(
        error_of(recall(&app, &other, wrong).await, 404).await["code"],
        "not_found"
    );

    let report: Value = recall(&app, &key, wrong).await.json().await.unwrap();
    assert_eq!(report["message_id"], wrong);
    assert_eq!(report["withdrawn"], 3);
    assert_eq!(report["beyond_reach"], json!({ "webhook": 2 }), "{report}");
    assert_eq!(report["cancelled"], json!({}));

    // SSE: a `recalled` event, then the unread pair one version on.
    let recalled = loop {
        let event = ana_sse.next().await;
        if event.event == "recalled" {
            break event;
        }
    };
    assert_eq!(recalled.data["ids"], json!([ana_item]));
    let unread = ana_sse.next().await;
    assert_eq!(unread.event, "unread");
    assert_eq!(
        unread.data["count"], 1,
        "only the message that stays is unread"
    );
    // WebSocket: the same, for an item already read (the count stays, the version moves).
    let recalled = loop {
        let next = frame(&mut ben_ws).await;
        if next["event"] == "recalled" {
            break next;
        }
    };
    assert_eq!(recalled, json!({ "event": "recalled", "ids": [ben_item] }));
    let unread = frame(&mut ben_ws).await;
    assert_eq!(unread["count"], ben_read["count"]);
    assert_eq!(unread["version"], ben_read["version"].as_i64().unwrap() + 1);
    // Long-poll: answered at once with what was recalled.
    let answer: Value = cy_poll.await.unwrap().unwrap().json().await.unwrap();
    assert_eq!(answer["recalled"], json!([cy_item]), "{answer}");
    assert_eq!(answer["unread"]["count"], 1);

    // A client that polls the inbox page learns what was recalled since its last poll.
    let since = cy_before["as_of"].as_str().unwrap();
    let polled: Value = app
        .anonymous()
        // As UTC with a `Z`, the time needs no escaping in a query.
        .get(app.url(&format!("/v1/inbox?recalled_since={since}")))
        .bearer_auth(token_for("cy"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(polled["recalled"], json!([cy_item]), "{polled}");
    assert_eq!(polled["items"].as_array().unwrap().len(), 1);

    // Gone from lists, counts and resumes; acknowledging it finds nothing.
    let cy_after = inbox_of(&app, "cy").await;
    assert!(
        cy_after.get("recalled").is_none(),
        "only when asked: {cy_after}"
    );
    assert_eq!(cy_after["items"].as_array().unwrap().len(), 1);
    assert_eq!(cy_after["items"][0]["title"], "Welcome");
    let mut resumed = EventReader::open(&app, &token_for("ana"), Some(0)).await;
    let first = resumed.next_message().await;
    assert_ne!(first, ana_item);
    let after_first = resumed.next().await;
    assert_eq!(
        after_first.event, "unread",
        "nothing after the one that stays"
    );
    let gone = app
        .anonymous()
        .post(app.url(&format!("/v1/inbox/{cy_item}/read")))
        .bearer_auth(token_for("cy"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status().as_u16(), 404);

    // Again: nothing more to withdraw; the first recall's time stays.
    let again: Value = recall(&app, &key, wrong).await.json().await.unwrap();
    assert_eq!(
        (again["withdrawn"].clone(), again["recalled_at"].clone()),
        (json!(0), report["recalled_at"].clone())
    );
    let audit = admin.get_json("/v1/audit-log?action=message.recall").await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 2);

    // Cy's data export still holds the withdrawn item, saying it was recalled.
    let export = admin.get_json("/v1/subscribers/cy/export").await;
    let items = export["inbox"].as_array().unwrap();
    let withdrawn = items.iter().find(|item| item["id"] == cy_item).unwrap();
    assert_eq!(withdrawn["recalled_at"], report["recalled_at"], "{export}");
    let kept = items
        .iter()
        .find(|item| item["title"] == "Welcome")
        .unwrap();
    assert!(kept.get("recalled_at").is_none());
}

#[tokio::test]
async fn recalling_a_campaign_cancels_what_it_has_not_sent_and_withdraws_what_it_has() {
    use crate::campaign_run::scheduled_campaign_on;

    let app = app_with(&["ana", "ben"]).await;
    let admin = app.operator(Role::Admin).await;
    let template_id = hello_template(&admin).await;
    let sent = scheduled_campaign_on(
        &app,
        &admin,
        template_id,
        json!({ "kind": "now" }),
        json!(["inbox"]),
    )
    .await;
    app.deliverer().await.run_once(Utc::now()).await.unwrap();
    assert_eq!(
        inbox_of(&app, "ana").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let report = admin
        .ok(
            Method::POST,
            &format!("/v1/campaigns/{sent}/recall"),
            &json!({}),
        )
        .await;
    assert_eq!(report["withdrawn"], 2, "{report}");
    assert!(
        inbox_of(&app, "ana").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let campaign = admin.get_json(&format!("/v1/campaigns/{sent}")).await;
    assert_eq!(
        campaign["recalled_at"], report["recalled_at"],
        "the campaign says it was recalled"
    );

    // One scheduled for later is cancelled: it will send nothing.
    let later = scheduled_campaign_on(
        &app,
        &admin,
        template_id,
        json!({ "kind": "at", "at": "2099-01-01T00:00:00Z" }),
        json!(["inbox"]),
    )
    .await;
    let report = admin
        .ok(
            Method::POST,
            &format!("/v1/campaigns/{later}/recall"),
            &json!({}),
        )
        .await;
    assert_eq!(report["message_id"], Value::Null);
    assert_eq!(report["withdrawn"], 0);
    let campaign = admin.get_json(&format!("/v1/campaigns/{later}")).await;
    assert_eq!(campaign["status"], "cancelled");
    let editor = app.operator(Role::Viewer).await;
    let refused = editor
        .post(&format!("/v1/campaigns/{sent}/recall"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(refused, 403).await["code"], "forbidden");
}

#[tokio::test]
async fn an_inbox_send_under_way_when_its_message_is_recalled_stores_nothing() {
    use herald_core::deliveries::claim_due;

    let app = app_with(&["ana"]).await;
    let admin = app.operator(Role::Admin).await;
    // While all sending is stopped, the inbox send waits for a worker instead of being
    // stored at once: a worker can then hold it when the recall comes.
    let stop = admin
        .ok(
            Method::POST,
            "/v1/halts",
            &json!({ "scope": "all", "reason": "test" }),
        )
        .await;
    let key = app.api_key(&["messages:send"]).await;
    let accepted: Value = app
        .anonymous()
        .post(app.url("/v1/messages"))
        .bearer_auth(&key)
        .json(
            &json!({ "recipients": ["ana"], "channels": ["inbox"], "category": "news",
            "content": { "inbox": { "title": "Wrong" } } }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    admin
        .ok(
            Method::DELETE,
            &format!("/v1/halts/{}", stop["id"]),
            &json!({}),
        )
        .await;
    let lease = std::time::Duration::from_secs(60);
    let claimed = claim_due(&app.db, Utc::now(), lease, 10, &Default::default())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "a worker holds the send");

    let id = accepted["id"].as_i64().unwrap();
    let report: Value = recall(&app, &key, id).await.json().await.unwrap();
    assert_eq!(report["withdrawn"], 0, "nothing was stored yet: {report}");
    app.deliverer()
        .await
        .send_claimed(claimed, Utc::now())
        .await
        .unwrap();
    let inbox = inbox_of(&app, "ana").await;
    assert!(
        inbox["items"].as_array().unwrap().is_empty(),
        "the send under way stored nothing once its message was recalled: {inbox}"
    );
    assert_eq!(inbox["unread"]["count"], 0);
}

/// Postgres: a recall holds its message's row and its campaign's, then takes its
/// recipients' planning locks to move their unread pairs. A planner of one of the
/// message's pages reads the campaign's row, but waits for the message's before it
/// takes any planning lock, so the two cannot wait for each other: here a transaction
/// standing in for the recall holds both rows, the page's planner starts, and the
/// transaction then takes the planning lock of the page's first block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recall_and_a_planner_of_its_message_take_their_locks_in_one_order() {
    use herald_core::blocks::block_of;
    use herald_core::deliveries::plan::PLANNING_LOCKS;
    use herald_core::entities::message;
    use sea_orm::{
        ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement,
        TransactionTrait,
    };

    use crate::campaign_run::scheduled_campaign_on;
    use crate::inbox_stream::subscriber_id;

    let app = app_with(&["ana", "ben"]).await;
    if app.db.get_database_backend() != DbBackend::Postgres {
        return; // SQLite has one writer at a time.
    }
    let admin = app.operator(Role::Admin).await;
    let template_id = hello_template(&admin).await;
    let campaign = scheduled_campaign_on(
        &app,
        &admin,
        template_id,
        json!({ "kind": "now" }),
        json!(["inbox"]),
    )
    .await;
    // Started and cut into pages as the worker's upkeep does, but not yet planned.
    herald_core::campaigns::dispatch::start_due(&app.db, Utc::now())
        .await
        .unwrap();
    herald_core::campaigns::pages::cut_pages(&app.db, Utc::now())
        .await
        .unwrap();
    let message_id = message::Entity::find()
        .filter(message::Column::CampaignId.eq(campaign))
        .one(&app.db)
        .await
        .unwrap()
        .expect("the campaign's message")
        .id;

    // The recall's first steps: its message's row, then its campaign's (recalled_at).
    let recall = app.db.begin().await.unwrap();
    for (sql, id) in [
        (
            "SELECT id FROM messages WHERE id = $1 FOR UPDATE",
            message_id,
        ),
        (
            "SELECT id FROM campaigns WHERE id = $1 FOR NO KEY UPDATE",
            campaign,
        ),
    ] {
        let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, [id.into()]);
        recall.execute_raw(statement).await.unwrap();
    }
    let deliverer = app.deliverer().await;
    let planner = tokio::spawn(async move { deliverer.run_once(Utc::now()).await });
    // Long enough for the planner to reach the page and wait.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (block, _) = block_of(subscriber_id(&app, "ana").await);
    recall
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1, $2)",
            [PLANNING_LOCKS.into(), i32::try_from(block).unwrap().into()],
        ))
        .await
        .expect("the planning lock is free: the planner waits for the message");
    recall.commit().await.unwrap();
    let planned = planner.await.unwrap().expect("the page is planned");
    assert_eq!(planned.planned, 2);
    for who in ["ana", "ben"] {
        let items = inbox_of(&app, who).await["items"].as_array().unwrap().len();
        assert_eq!(items, 1, "{who}");
    }
}
