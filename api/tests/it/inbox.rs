//! The in-app inbox over its short-poll routes: inbox deliveries are stored as items
//! (by the API for its sends, by the worker for the rest), a subscriber token (minted
//! by the API or signed by the product itself) reads only its own subscriber's items,
//! and read, archive and acknowledgements move the versioned unread pair and reach the
//! delivery log.

use chrono::Utc;
use herald_core::access::Role;
use herald_core::deliveries::plan_batch;
use herald_core::entities::{delivery, inbox_item, subscriber};
use herald_core::inbox::NewItem;
use herald_core::inbox::store::store_batch;
use herald_core::rules::engine::{Recipient, RuleSet};
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::{
    TOKEN_SECRET, TestApp, claims, error_of, insert_message, sign, spawn_app_with_token_secret,
    subscriber_token,
};
use crate::inbox_stream::subscriber_id;

/// Two subscribers, each sent one inbox message by the worker.
async fn inbox_with_two_subscribers() -> TestApp {
    let app = spawn_app_with_token_secret().await;
    let admin = app.operator(Role::Admin).await;
    let template = admin
        .ok(
            Method::POST,
            "/v1/templates",
            &json!({ "name": "welcome", "content": { "inbox": {
                "title": "Hi {{ subscriber.external_id }}", "body": "Welcome aboard",
                "data": { "link": "/start" } } } }),
        )
        .await;
    for id in ["ana", "ben"] {
        admin
            .ok(Method::PUT, &format!("/v1/subscribers/{id}"), &json!({}))
            .await;
    }
    let message = insert_message(
        &app.db,
        "news",
        template["template"]["id"].as_i64(),
        json!(["inbox"]),
    )
    .await;
    let recipients: Vec<Recipient> = subscriber::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(Recipient::from)
        .collect();
    let rules = RuleSet::load(&app.db).await.unwrap();
    plan_batch(&app.db, &rules, &message, &recipients, Utc::now())
        .await
        .unwrap();
    let deliverer = app.deliverer().await;
    let sent = deliverer.run_once(Utc::now()).await.unwrap();
    assert_eq!(sent.delivered, 2, "{sent:?}");
    app
}

async fn get(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.anonymous()
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> reqwest::Response {
    app.anonymous()
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn minted(app: &TestApp, key: &str, external_id: &str) -> String {
    let response = app
        .anonymous()
        .post(app.url(&format!("/v1/subscribers/{external_id}/tokens")))
        .bearer_auth(key)
        .json(&json!({ "ttl_secs": 600 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = response.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_token_reads_its_own_inbox_only_and_moves_the_unread_pair() {
    let app = inbox_with_two_subscribers().await;
    let key = app.api_key(&["subscribers:write"]).await;
    let ana = minted(&app, &key, "ana").await;
    // The product's backend signs ben's token itself.
    let ben = subscriber_token("ben");

    let page: Value = get(&app, "/v1/inbox", &ana).await.json().await.unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["title"], "Hi ana");
    assert_eq!(items[0]["data"]["link"], "/start");
    assert_eq!(page["unread"], json!({ "count": 1, "version": 1 }));
    let ana_item = items[0]["id"].as_i64().unwrap();
    let ben_page: Value = get(&app, "/v1/inbox", &ben).await.json().await.unwrap();
    assert_eq!(ben_page["items"][0]["title"], "Hi ben");
    let ben_item = ben_page["items"][0]["id"].as_i64().unwrap();

    // Another subscriber's item does not exist for this token.
    for path in [
        format!("/v1/inbox/{ben_item}/read"),
        format!("/v1/inbox/{ben_item}/archive"),
    ] {
        let response = post(&app, &path, &ana, json!({})).await;
        assert_eq!(error_of(response, 404).await["code"], "not_found");
    }
    let response = post(
        &app,
        &format!("/v1/inbox/{ben_item}/ack"),
        &ana,
        json!({ "status": "displayed" }),
    )
    .await;
    assert_eq!(response.status().as_u16(), 404);

    // Acknowledgements reach the delivery log; reading moves the pair once.
    for status in ["received", "displayed"] {
        let response = post(
            &app,
            &format!("/v1/inbox/{ana_item}/ack"),
            &ana,
            json!({ "status": status }),
        )
        .await;
        assert_eq!(response.status().as_u16(), 200);
    }
    let read: Value = post(&app, &format!("/v1/inbox/{ana_item}/read"), &ana, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, json!({ "count": 0, "version": 2 }));
    let again: Value = post(&app, &format!("/v1/inbox/{ana_item}/read"), &ana, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, read, "reading twice changes nothing");
    let unread: Value = get(&app, "/v1/inbox/unread-count", &ben)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        unread,
        json!({ "count": 1, "version": 1 }),
        "ben's untouched"
    );

    let ana_delivery = inbox_item::Entity::find_by_id(ana_item)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .delivery_id
        .unwrap();
    let viewer = app.operator(Role::Viewer).await;
    let trace = viewer
        .get_json(&format!("/v1/deliveries/{ana_delivery}"))
        .await;
    let outcomes: Vec<&str> = trace["attempts_made"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["delivered", "received", "displayed", "read"]);

    // Archive takes an unread item out of the list and the count; read-all the rest.
    let archived: Value = post(
        &app,
        &format!("/v1/inbox/{ben_item}/archive"),
        &ben,
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(archived, json!({ "count": 0, "version": 2 }));
    let page: Value = get(&app, "/v1/inbox", &ben).await.json().await.unwrap();
    assert!(page["items"].as_array().unwrap().is_empty());
    let all: Value = post(&app, "/v1/inbox/read-all", &ben, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        all,
        json!({ "count": 0, "version": 2 }),
        "nothing left to read"
    );
}

#[tokio::test]
async fn missing_forged_expired_and_foreign_tokens_get_401() {
    let app = inbox_with_two_subscribers().await;
    let now = Utc::now().timestamp();
    let with = |changes: Value| {
        let mut claims = claims("ana");
        for (key, value) in changes.as_object().unwrap() {
            match value {
                Value::Null => claims.as_object_mut().unwrap().remove(key),
                value => claims
                    .as_object_mut()
                    .unwrap()
                    .insert(key.clone(), value.clone()),
            };
        }
        sign(&claims, TOKEN_SECRET)
    };
    let cases = [
        (String::new(), "unauthenticated", "send a subscriber token"),
        ("not-a-token".into(), "invalid_token", "malformed or forged"),
        (
            sign(&claims("ana"), "another-secret-of-32-characters!!!"),
            "invalid_token",
            "malformed or forged",
        ),
        (with(json!({ "exp": now - 5 })), "invalid_token", "expired"),
        (
            with(json!({ "sub": "nobody" })),
            "invalid_token",
            "no subscriber",
        ),
        (with(json!({ "exp": null })), "invalid_token", "lacks"),
        // The audience must be Herald's, and be there.
        (with(json!({ "aud": "crm" })), "invalid_token", "audience"),
        (with(json!({ "aud": null })), "invalid_token", "lacks"),
        // `iat` must be there, not in the future, and at most a day before `exp`.
        (with(json!({ "iat": null })), "invalid_token", "lacks"),
        (with(json!({ "iat": now + 600 })), "invalid_token", "future"),
        (
            with(json!({ "iat": now - 60, "exp": now + 86_400 })),
            "invalid_token",
            "longer than",
        ),
    ];
    for (token, code, message) in cases {
        for path in ["/v1/inbox", "/v1/inbox/unread-count"] {
            let mut request = app.anonymous().get(app.url(path));
            if !token.is_empty() {
                request = request.bearer_auth(&token);
            }
            let response = request.send().await.unwrap();
            let error = error_of(response, 401).await;
            assert_eq!(error["code"], code, "{path} {token}");
            let said = error["message"].as_str().unwrap();
            assert!(said.contains(message), "{path}: {said}, expected {message}");
        }
    }
    // An API key or an operator session is not a subscriber token.
    let key = app.api_key(&["subscribers:write"]).await;
    let response = get(&app, "/v1/inbox", &key).await;
    assert_eq!(error_of(response, 401).await["code"], "invalid_token");
    // The token may also come as a query parameter (EventSource cannot set headers).
    let token = subscriber_token("ana");
    let response = app
        .anonymous()
        .get(app.url(&format!("/v1/inbox/unread-count?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    // Minting needs a key allowed to write subscribers, for a subscriber that exists.
    let reader = app.api_key(&["subscribers:read"]).await;
    let response = app
        .anonymous()
        .post(app.url("/v1/subscribers/ana/tokens"))
        .bearer_auth(&reader)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    for (path, body, status, field) in [
        ("/v1/subscribers/nobody/tokens", json!({}), 404, None),
        (
            "/v1/subscribers/ana/tokens",
            json!({ "ttl_secs": 5 }),
            422,
            Some("ttl_secs"),
        ),
        // Past auth.subscriber_token_max_lifetime_secs (a day by default).
        (
            "/v1/subscribers/ana/tokens",
            json!({ "ttl_secs": 86_401 }),
            422,
            Some("ttl_secs"),
        ),
    ] {
        let response = app
            .anonymous()
            .post(app.url(path))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let error = error_of(response, status).await;
        if let Some(field) = field {
            assert_eq!(error["field"], field);
        }
    }
}

#[tokio::test]
async fn revoking_a_subscribers_tokens_refuses_those_issued_before_and_no_others() {
    let app = inbox_with_two_subscribers().await;
    let key = app.api_key(&["subscribers:write"]).await;
    let mint = |who: &'static str| {
        let (app, key) = (&app, key.clone());
        async move {
            let minted: Value = app
                .anonymous()
                .post(app.url(&format!("/v1/subscribers/{who}/tokens")))
                .bearer_auth(&key)
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            minted["token"].as_str().unwrap().to_owned()
        }
    };
    let minted = mint("ana").await;
    let signed = subscriber_token("ana");
    let ben = subscriber_token("ben");
    for token in [&minted, &signed, &ben] {
        assert_eq!(get(&app, "/v1/inbox", token).await.status().as_u16(), 200);
    }
    let response = app
        .anonymous()
        .delete(app.url("/v1/subscribers/ana/tokens"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    for token in [&minted, &signed] {
        let error = error_of(get(&app, "/v1/inbox", token).await, 401).await;
        assert_eq!(error["code"], "invalid_token");
        assert!(error["message"].as_str().unwrap().contains("revoked"));
    }
    // Another subscriber's tokens are untouched, and a token minted right after the
    // revocation (even within its second) works at once.
    assert_eq!(get(&app, "/v1/inbox", &ben).await.status().as_u16(), 200);
    let fresh = mint("ana").await;
    assert_eq!(get(&app, "/v1/inbox", &fresh).await.status().as_u16(), 200);
    // Unknown subscribers are a 404; revocations are audited.
    let response = app
        .anonymous()
        .delete(app.url("/v1/subscribers/nobody/tokens"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    error_of(response, 404).await;
    let audited = herald_core::entities::audit_log::Entity::find()
        .filter(herald_core::entities::audit_log::Column::Action.eq("subscriber.tokens.revoke"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].target_id.as_deref(), Some("ana"));
}

#[tokio::test]
async fn storing_a_batch_twice_stores_each_delivery_once() {
    let app = inbox_with_two_subscribers().await;
    let ana = subscriber_id(&app, "ana").await;
    let delivery_id = delivery::Entity::find()
        .filter(delivery::Column::SubscriberId.eq(ana))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let item = NewItem {
        subscriber_id: ana,
        delivery_id,
        category: "news".into(),
        title: "again".into(),
        body: "a retried batch".into(),
        data: json!({}),
    };
    let stored = store_batch(&app.db, vec![item], Utc::now()).await.unwrap();
    assert!(stored.is_empty(), "already stored by the worker");
    let unread = herald_core::inbox::pairs::unread(&app.db, ana)
        .await
        .unwrap();
    assert_eq!((unread.count, unread.version), (1, 1));
}

#[tokio::test]
async fn the_browser_client_and_the_demo_page_are_served() {
    let app = crate::helpers::spawn_app().await;
    for (path, kind, needle) in [
        ("/sdk/herald.js", "text/javascript", "/v1/stream/sse"),
        (
            "/sdk/herald.mjs",
            "text/javascript",
            "export { connect, HeraldError }",
        ),
        (
            "/sdk/herald.d.ts",
            "application/typescript",
            "export declare function connect",
        ),
        ("/demo", "text/html", "/sdk/herald.js"),
    ] {
        let response = app.anonymous().get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
        assert!(response.text().await.unwrap().contains(needle), "{path}");
    }
}

#[tokio::test]
async fn operators_see_a_subscribers_inbox_with_what_was_read() {
    let app = inbox_with_two_subscribers().await;
    let ana = subscriber_token("ana");
    let page: Value = get(&app, "/v1/inbox", &ana).await.json().await.unwrap();
    let item = page["items"][0]["id"].as_i64().unwrap();
    let read = post(&app, &format!("/v1/inbox/{item}/read"), &ana, json!({})).await;
    assert_eq!(read.status().as_u16(), 200);

    let auditor = app.operator(Role::Viewer).await;
    let seen = auditor.get_json("/v1/subscribers/ana/inbox").await;
    assert_eq!(seen["items"].as_array().unwrap().len(), 1);
    assert_eq!(seen["items"][0]["title"], "Hi ana");
    assert!(seen["items"][0]["read_at"].is_string(), "{seen}");
    assert_eq!(seen["unread"]["count"], 0);
    let ben = auditor.get_json("/v1/subscribers/ben/inbox").await;
    assert_eq!(
        (ben["items"][0]["title"].as_str(), &ben["unread"]["count"]),
        (Some("Hi ben"), &json!(1))
    );

    let nobody = auditor
        .get("/v1/subscribers/nobody/inbox")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(nobody, 404).await["code"], "not_found");
    // A subscriber token is not an operator's credential.
    let response = get(&app, "/v1/subscribers/ana/inbox", &ana).await;
    assert_eq!(response.status().as_u16(), 401);
}

/// An inbox send through the API needs no worker: by the time `POST /v1/messages`
/// answers, each recipient's item is stored, announced on the bus and its delivery
/// written once, in its final state with its one attempt inline (no attempt row); an
/// item that cannot be rendered fails its own delivery only, and no worker is woken for
/// work that is done.
#[tokio::test]
async fn an_inbox_send_is_stored_announced_and_logged_before_it_is_answered() {
    use futures::FutureExt;
    use herald_core::entities::delivery_attempt;
    use herald_core::inbox::Signal;

    let app = spawn_app_with_token_secret().await;
    let admin = app.operator(Role::Admin).await;
    admin
        .ok(
            Method::PUT,
            "/v1/subscribers/ana",
            &json!({ "attributes": { "name": "Ana" } }),
        )
        .await;
    admin
        .ok(Method::PUT, "/v1/subscribers/ben", &json!({}))
        .await;
    let ana_id = subscriber_id(&app, "ana").await;
    let mut signals = app.bus.subscribe(ana_id);
    let key = app.api_key(&["messages:send"]).await;

    let response = app
        .anonymous()
        .post(app.url("/v1/messages"))
        .bearer_auth(&key)
        .json(&json!({ "recipients": ["ana", "ben"], "channels": ["inbox"], "category": "news",
            "content": { "inbox": { "title": "Hi {{ subscriber.attributes.name }}", "body": "Welcome" } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(accepted["queued"], 2, "{accepted}");

    match signals.try_recv() {
        Ok(Signal::Items { unread, items }) => {
            assert_eq!((unread.count, unread.version), (1, 1));
            assert_eq!(items.unwrap()[0].title, "Hi Ana");
        }
        other => panic!("ana's streams hear of her item: {other:?}"),
    }
    let page: Value = get(&app, "/v1/inbox", &subscriber_token("ana"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["title"], "Hi Ana");
    assert_eq!(page["unread"], json!({ "count": 1, "version": 1 }));
    let ben_page: Value = get(&app, "/v1/inbox", &subscriber_token("ben"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ben_page["items"], json!([]), "ben's title cannot render");

    let deliveries = delivery::Entity::find().all(&app.db).await.unwrap();
    let (ana_delivery, ben_delivery) = match &deliveries[..] {
        [first, second] if first.subscriber_id == ana_id => (first, second),
        [first, second] => (second, first),
        _ => panic!("one delivery each: {deliveries:?}"),
    };
    assert_eq!(
        (ana_delivery.status.as_str(), ana_delivery.attempts),
        ("delivered", 1)
    );
    assert_eq!(
        (ben_delivery.status.as_str(), ben_delivery.attempts),
        ("failed", 1)
    );
    let reason = ben_delivery.reason.as_deref().unwrap_or_default();
    assert!(reason.contains("rendering failed"), "{reason}");
    for written in [ana_delivery, ben_delivery] {
        assert_eq!(
            written.created_at, written.updated_at,
            "written once: {written:?}"
        );
    }
    let attempt_rows = delivery_attempt::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(attempt_rows, [], "each attempt lives in its delivery's row");
    for (written, outcome) in [(ana_delivery, "delivered"), (ben_delivery, "permanent")] {
        let trace = admin
            .get_json(&format!("/v1/deliveries/{}", written.id))
            .await;
        let attempts = trace["attempts_made"].as_array().unwrap();
        assert_eq!(attempts.len(), 1, "{trace}");
        assert_eq!(attempts[0]["outcome"], outcome, "{trace}");
    }

    assert!(
        app.doorbell.rung().now_or_never().is_none(),
        "nothing was left for a worker"
    );
    let deliverer = app.deliverer().await;
    let round = deliverer.run_once(Utc::now()).await.unwrap();
    assert_eq!((round.delivered, round.failed), (0, 0), "{round:?}");
}

#[tokio::test]
async fn a_send_whose_render_exceeds_a_limit_fails_only_that_recipients_delivery() {
    let app = spawn_app_with_token_secret().await;
    let admin = app.operator(Role::Admin).await;
    for (who, repeat) in [("ana", 3), ("ben", 1_000_000)] {
        admin
            .ok(
                Method::PUT,
                &format!("/v1/subscribers/{who}"),
                &json!({ "attributes": { "repeat": repeat } }),
            )
            .await;
    }
    let key = app.api_key(&["messages:send"]).await;
    let response = app
        .anonymous()
        .post(app.url("/v1/messages"))
        .bearer_auth(&key)
        .json(&json!({ "recipients": ["ana", "ben"], "channels": ["inbox"], "category": "news",
            "content": { "inbox": { "title": "Hi", "body": "{{ 'x' * subscriber.attributes.repeat }}" } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);

    let ana_id = subscriber_id(&app, "ana").await;
    let deliveries = delivery::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    for delivery in deliveries {
        if delivery.subscriber_id == ana_id {
            assert_eq!(delivery.status, "delivered");
        } else {
            assert_eq!(delivery.status, "failed");
            let reason = delivery.reason.unwrap_or_default();
            assert!(reason.contains("exceeds 524288 bytes"), "{reason}");
        }
    }
    let page: Value = get(&app, "/v1/inbox", &subscriber_token("ana"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["body"], "xxx");
}

/// A keyword rule that finds a banned word in an inbox item as rendered for one
/// subscriber (a subscriber field here) holds that item back, whether the API stores it
/// as it answers a send or the worker stores it later; the others are stored.
#[tokio::test]
async fn a_keyword_in_a_rendered_inbox_item_holds_that_item_back() {
    use herald_core::deliveries::ledger::slots_taken;
    use herald_core::entities::delivery_attempt;
    use sea_orm::PaginatorTrait;

    let app = spawn_app_with_token_secret().await;
    let admin = app.operator(Role::Admin).await;
    for (id, name) in [("ana", "Ana"), ("ben", "Casino Ben")] {
        admin
            .ok(
                Method::PUT,
                &format!("/v1/subscribers/{id}"),
                &json!({ "attributes": { "name": name } }),
            )
            .await;
    }
    let rule = admin
        .ok(
            Method::POST,
            "/v1/rules",
            &json!({ "name": "no gambling", "scope": "global", "kind": "keyword",
                "params": { "words": ["casino"] } }),
        )
        .await;
    let rule_id = rule["id"].as_i64().unwrap();
    let held_reason = format!("held back by keyword rule {rule_id}: `casino` in inbox.title");
    let ben_id = subscriber_id(&app, "ben").await;

    // Stored by the API as it answers the send.
    let key = app.api_key(&["messages:send"]).await;
    let response = app
        .anonymous()
        .post(app.url("/v1/messages"))
        .bearer_auth(&key)
        .json(&json!({ "recipients": ["ana", "ben"], "channels": ["inbox"], "category": "news",
            "content": { "inbox": { "title": "Hi {{ subscriber.attributes.name }}", "body": "News" } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);

    // Stored by the worker: planned as queued deliveries first.
    let message = insert_message(&app.db, "news", None, json!(["inbox"])).await;
    let message = {
        use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
        let mut active = message.into_active_model();
        active.content = Set(Some(json!({ "inbox": {
            "title": "Again, {{ subscriber.attributes.name }}", "body": "News" } })));
        active.update(&app.db).await.unwrap()
    };
    let recipients: Vec<Recipient> = subscriber::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(Recipient::from)
        .collect();
    let rules = RuleSet::load(&app.db).await.unwrap();
    plan_batch(&app.db, &rules, &message, &recipients, Utc::now())
        .await
        .unwrap();
    let deliverer = app.deliverer().await;
    let round = deliverer.run_once(Utc::now()).await.unwrap();
    assert_eq!((round.delivered, round.held), (1, 1), "{round:?}");

    let mut items = inbox_item::Entity::find().all(&app.db).await.unwrap();
    items.sort_by_key(|item| item.id);
    let titles: Vec<&str> = items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(
        titles,
        ["Hi Ana", "Again, Ana"],
        "ben's items were held back"
    );
    let held = delivery::Entity::find()
        .filter(delivery::Column::SubscriberId.eq(ben_id))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(held.len(), 2);
    for delivery in &held {
        assert_eq!(delivery.status, "filtered");
        assert_eq!(delivery.filter.as_deref(), Some("keyword"));
        assert_eq!(delivery.rule_id, Some(rule_id));
        assert_eq!(delivery.reason.as_deref(), Some(held_reason.as_str()));
        assert_eq!(delivery.attempts, 0, "never attempted");
    }
    let attempts = delivery_attempt::Entity::find()
        .filter(delivery_attempt::Column::DeliveryId.is_in(held.iter().map(|d| d.id)))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(attempts, 0);
    let ben_slots = slots_taken(&app.db, None, Some(ben_id)).await.unwrap();
    assert_eq!(ben_slots, 0, "the held items' slots were given back");
}
