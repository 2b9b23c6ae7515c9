//! A broadcast stored once (ADR 0003): an inbox message whose content reads nothing of
//! the subscriber, sent to many, is one shared item; each recipient reads, archives,
//! resumes and exports it as their own, and what one does leaves the others alone.

use herald_core::access::Role;
use herald_core::entities::{inbox_item, inbox_receipt, inbox_share};
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::inbox_stream::{EventReader, app_with, subscriber_id};
use crate::recall::{inbox_of, token_for};

async fn as_subscriber(app: &TestApp, external_id: &str, path: &str) -> Value {
    let answer = app
        .anonymous()
        .post(app.url(path))
        .bearer_auth(token_for(external_id))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200, "{path}");
    answer.json().await.unwrap()
}

async fn send(app: &TestApp, key: &str, body: Value) -> i64 {
    let answer = app
        .anonymous()
        .post(app.url("/v1/messages"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 202);
    answer.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

fn ids(inbox: &Value) -> Vec<i64> {
    inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_broadcast_is_stored_once_and_each_recipient_keeps_their_own_state() {
    let app = app_with(&["ana", "ben", "cy", "dee"]).await;
    let key = app.api_key(&["messages:send"]).await;
    let before = send(
        &app,
        &key,
        json!({ "recipients": ["ana"], "channels": ["inbox"], "category": "news",
        "content": { "inbox": { "title": "Just for you" } } }),
    )
    .await;
    assert!(before > 0);
    let ana_first = ids(&inbox_of(&app, "ana").await)[0];
    let mut ana_resumed = EventReader::open(&app, &token_for("ana"), Some(ana_first)).await;

    send(
        &app,
        &key,
        json!({ "recipients": ["ana", "ben", "cy"], "channels": ["inbox"], "category": "news",
        "content": { "inbox": { "title": "Sale", "body": "Everything half price",
        "data": { "link": "/sale" } } } }),
    )
    .await;
    let shared: Vec<inbox_item::Model> = inbox_item::Entity::find()
        .filter(inbox_item::Column::SubscriberId.is_null())
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(shared.len(), 1, "one item for three recipients");
    let item = shared[0].id;
    // A personalised message to several stays one item each.
    send(
        &app,
        &key,
        json!({ "recipients": ["ben", "cy"], "channels": ["inbox"], "category": "news",
        "content": { "inbox": { "title": "Hi {{ subscriber.external_id }}" } } }),
    )
    .await;
    let personal = inbox_item::Entity::find()
        .filter(inbox_item::Column::SubscriberId.is_not_null())
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(
        personal.len(),
        3,
        "ana's first item, then ben's and cy's own"
    );

    // Every recipient lists it as theirs, unread; dee was not meant for it.
    for who in ["ana", "ben", "cy"] {
        let inbox = inbox_of(&app, who).await;
        assert!(ids(&inbox).contains(&item), "{who}: {inbox}");
        let mine = inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == item)
            .unwrap();
        assert_eq!(mine["title"], "Sale");
        assert_eq!(mine["data"]["link"], "/sale");
        assert!(mine["read_at"].is_null());
    }
    assert_eq!(inbox_of(&app, "ana").await["unread"]["count"], 2);
    assert_eq!(inbox_of(&app, "dee").await["items"], json!([]));
    let foreign = app
        .anonymous()
        .post(app.url(&format!("/v1/inbox/{item}/read")))
        .bearer_auth(token_for("dee"))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status().as_u16(), 404, "not dee's to read");

    // A stream resumed before it gets it from the database, with its id.
    assert_eq!(ana_resumed.next_message().await, item);

    // Ana reads it: her pair moves, ben's and cy's stay.
    let ana = as_subscriber(&app, "ana", &format!("/v1/inbox/{item}/read")).await;
    assert_eq!(ana["count"], 1);
    let again = as_subscriber(&app, "ana", &format!("/v1/inbox/{item}/read")).await;
    assert_eq!(again, ana, "reading twice changes nothing");
    let listed = inbox_of(&app, "ana").await;
    let mine = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == item)
        .unwrap();
    assert!(mine["read_at"].is_string(), "{listed}");
    let ben = inbox_of(&app, "ben").await;
    assert_eq!(ben["unread"]["count"], 2);
    assert!(
        ben["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["read_at"].is_null())
    );
    // Her entry in the delivery log is the shared item's bit; its trace shows the read.
    let admin = app.operator(Role::Admin).await;
    let log = admin
        .ok(
            Method::GET,
            "/v1/deliveries?subscriber=ana&channel=inbox",
            &Value::Null,
        )
        .await;
    let entry = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["item_id"] == item)
        .unwrap_or_else(|| panic!("ana's shared entry is in the log: {log}"));
    assert!(entry["id"].is_null(), "{entry}");
    assert_eq!(entry["status"], "delivered");
    let trace = admin
        .ok(
            Method::GET,
            &format!("/v1/deliveries/shared/{item}/ana"),
            &Value::Null,
        )
        .await;
    let outcomes: Vec<&str> = trace["attempts_made"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["delivered", "read"],
        "ana's read reached her log entry"
    );

    // Ben archives it: it leaves his list only.
    let ben_after = as_subscriber(&app, "ben", &format!("/v1/inbox/{item}/archive")).await;
    assert_eq!(ben_after["count"], 1);
    assert!(!ids(&inbox_of(&app, "ben").await).contains(&item));
    assert!(ids(&inbox_of(&app, "cy").await).contains(&item));

    // Cy reads everything: the shared item and her own.
    let cy = as_subscriber(&app, "cy", "/v1/inbox/read-all").await;
    assert_eq!(cy["count"], 0);
    let receipts = inbox_receipt::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(receipts.len(), 3, "one receipt per recipient who acted");

    // Ana's export holds it; deleting cy forgets she was meant for it.
    let export = admin
        .ok(Method::GET, "/v1/subscribers/ana/export", &Value::Null)
        .await;
    let exported: Vec<i64> = export["inbox"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(exported, vec![ana_first, item]);
    let cy_id = subscriber_id(&app, "cy").await;
    admin
        .ok(Method::DELETE, "/v1/subscribers/cy", &Value::Null)
        .await;
    let shares = inbox_share::Entity::find().all(&app.db).await.unwrap();
    let still: Vec<i64> = shares
        .iter()
        .filter(|share| share.block == cy_id.div_euclid(64))
        .filter(|share| share.bits & (1_i64 << cy_id.rem_euclid(64)) != 0)
        .map(|share| share.item_id)
        .collect();
    assert_eq!(still, Vec::<i64>::new(), "cy's bit is cleared");
    // Her delivery stays in the log, as a row now.
    let message_of_item = inbox_item::Entity::find_by_id(item)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let kept = herald_core::entities::delivery::Entity::find()
        .filter(herald_core::entities::delivery::Column::SubscriberId.eq(cy_id))
        .filter(
            herald_core::entities::delivery::Column::MessageId
                .eq(message_of_item.message_id.unwrap()),
        )
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(
        kept.len(),
        1,
        "cy's delivery of the broadcast stays in the log"
    );
    assert_eq!(kept[0].status, "delivered");
    assert_eq!(message_of_item.logged_recipients, 2, "ana's and ben's bits");
    assert!(
        ids(&inbox_of(&app, "ana").await).contains(&item),
        "ana keeps it"
    );
}

/// A recipient reading an item while its message is recalled (shared items and personal
/// ones, turn about): whichever commits first, the other sees it, and the unread count
/// stays the number of unread items.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_while_a_broadcast_is_recalled_keeps_the_unread_count_exact() {
    let app = app_with(&["ana", "ben"]).await;
    let key = app.api_key(&["messages:send"]).await;
    for round in 0..12 {
        let message = send(
            &app,
            &key,
            json!({ "recipients": ["ana", "ben"], "channels": ["inbox"], "category": "news",
            "content": { "inbox": { "title": if round % 2 == 0 {
                format!("Offer {round}")
            } else {
                format!("Offer {round} for {{{{ subscriber.external_id }}}}")
            } } } }),
        )
        .await;
        let item = ids(&inbox_of(&app, "ana").await)[0];
        let read = app
            .anonymous()
            .post(app.url(&format!("/v1/inbox/{item}/read")))
            .bearer_auth(token_for("ana"))
            .send();
        let recall = app
            .anonymous()
            .post(app.url(&format!("/v1/messages/{message}/recall")))
            .bearer_auth(&key)
            .send();
        let (read, recall) = tokio::join!(read, recall);
        let read = read.unwrap().status().as_u16();
        assert!(read == 200 || read == 404, "read answered {read}");
        assert_eq!(recall.unwrap().status().as_u16(), 200);
    }
    for who in ["ana", "ben"] {
        let inbox = inbox_of(&app, who).await;
        assert_eq!(inbox["items"], json!([]), "{who}: every offer was recalled");
        assert_eq!(inbox["unread"]["count"], 0, "{who}: {inbox}");
    }
}

/// Items are announced as they were built, not read back: what a stream shows must be
/// exactly what the inbox lists afterwards, to the microsecond.
#[tokio::test]
async fn a_streamed_item_is_the_item_the_inbox_lists() {
    let app = app_with(&["ana", "ben"]).await;
    let key = app.api_key(&["messages:send"]).await;
    let mut stream = EventReader::open(&app, &token_for("ana"), None).await;
    assert_eq!(stream.next().await.event, "unread");

    let personal = json!({ "recipients": ["ana"], "channels": ["inbox"], "category": "news",
        "content": { "inbox": { "title": "Hello {{ subscriber.external_id }}",
        "body": "Yours", "data": { "link": "/you" } } } });
    let shared = json!({ "recipients": ["ana", "ben"], "channels": ["inbox"],
        "category": "news", "content": { "inbox": { "title": "Sale",
        "body": "Everything half price", "data": { "link": "/sale" } } } });
    let mut streamed = Vec::new();
    for body in [personal, shared] {
        send(&app, &key, body).await;
        let event = loop {
            let event = stream.next().await;
            if event.event == "message" {
                break event;
            }
        };
        streamed.push(event.data);
    }
    assert_eq!(streamed[0]["title"], "Hello ana", "{streamed:?}");

    let mut listed = inbox_of(&app, "ana").await["items"]
        .as_array()
        .unwrap()
        .clone();
    listed.reverse(); // newest first
    assert_eq!(streamed, listed);
}

/// The lazy fold (ADR 0003): a broadcast writes no recipient's unread pair; each counts
/// it when read, their first change of their own stores it, and a planner stores the
/// pairs of those who let `FOLD_AT` broadcasts pile up, none of which moves the pair.
#[tokio::test]
async fn a_broadcast_moves_no_stored_pair_until_its_recipient_acts_or_many_pile_up() {
    let fold_at = i64::try_from(herald_core::inbox::pairs::FOLD_AT).unwrap();

    let app = app_with(&["ana", "ben"]).await;
    let key = app.api_key(&["messages:send"]).await;
    let broadcast = json!({ "recipients": ["ana", "ben"], "channels": ["inbox"],
        "category": "news", "content": { "inbox": { "title": "Sale" } } });
    let pair_of = |inbox: &Value| {
        (
            inbox["unread"]["count"].as_i64().unwrap(),
            inbox["unread"]["version"].as_i64().unwrap(),
        )
    };

    send(&app, &key, broadcast.clone()).await;
    send(&app, &key, broadcast.clone()).await;
    assert!(
        stored(&app, "ana").await.is_none(),
        "no pair written for ana"
    );
    assert!(
        stored(&app, "ben").await.is_none(),
        "no pair written for ben"
    );
    assert_eq!(pair_of(&inbox_of(&app, "ana").await), (2, 2));
    let first = ids(&inbox_of(&app, "ana").await)[1];

    // Ana reads one: her pair is stored with both broadcasts folded in.
    let read = as_subscriber(&app, "ana", &format!("/v1/inbox/{first}/read")).await;
    assert_eq!(
        (read["count"].as_i64(), read["version"].as_i64()),
        (Some(1), Some(3))
    );
    let ana = stored(&app, "ana").await.expect("ana acted");
    assert_eq!((ana.unread, ana.version), (1, 3));
    assert_eq!(ana.shared_through, ids(&inbox_of(&app, "ana").await)[0]);
    send(&app, &key, broadcast.clone()).await;
    assert_eq!(pair_of(&inbox_of(&app, "ana").await), (2, 4));

    // Ben never acts: his pair is stored once FOLD_AT broadcasts wait for him, and
    // reads the same before and after.
    for _ in 3..fold_at - 1 {
        send(&app, &key, broadcast.clone()).await;
    }
    assert!(stored(&app, "ben").await.is_none());
    assert_eq!(
        pair_of(&inbox_of(&app, "ben").await),
        (fold_at - 1, fold_at - 1)
    );
    send(&app, &key, broadcast.clone()).await;
    let ben = stored(&app, "ben").await.expect("folded at FOLD_AT");
    assert_eq!((ben.unread, ben.version), (fold_at, fold_at));
    assert_eq!(pair_of(&inbox_of(&app, "ben").await), (fold_at, fold_at));
    send(&app, &key, broadcast).await;
    assert_eq!(
        pair_of(&inbox_of(&app, "ben").await),
        (fold_at + 1, fold_at + 1)
    );
    let all = as_subscriber(&app, "ben", "/v1/inbox/read-all").await;
    let pair = (all["count"].as_i64(), all["version"].as_i64());
    assert_eq!(pair, (Some(0), Some(fold_at + 2)));
}

/// A subscriber left out of their block's broadcasts is folded with the recipients, so
/// reading their pair does not visit more and more of their neighbours' share rows.
#[tokio::test]
async fn a_subscriber_left_out_of_their_blocks_broadcasts_is_folded_with_its_recipients() {
    let fold_at = herald_core::inbox::pairs::FOLD_AT;
    let app = app_with(&["ana", "ben", "cy"]).await;
    let block = |id: i64| herald_core::blocks::block_of(id).0;
    assert_eq!(
        block(subscriber_id(&app, "ana").await),
        block(subscriber_id(&app, "cy").await),
        "a fresh database's ids share a block"
    );
    let key = app.api_key(&["messages:send"]).await;
    let broadcast = json!({ "recipients": ["ana", "ben"], "channels": ["inbox"],
        "category": "news", "content": { "inbox": { "title": "Sale" } } });
    for _ in 1..fold_at {
        send(&app, &key, broadcast.clone()).await;
    }
    assert!(stored(&app, "cy").await.is_none());
    send(&app, &key, broadcast).await;

    let ana = stored(&app, "ana").await.expect("ana folded at FOLD_AT");
    let cy = stored(&app, "cy")
        .await
        .expect("cy folded with her block's recipients");
    assert_eq!(
        (cy.unread, cy.version),
        (0, 0),
        "none of it was meant for cy"
    );
    assert_eq!(cy.shared_through, ana.shared_through);
    let inbox = inbox_of(&app, "cy").await;
    assert!(ids(&inbox).is_empty());
    assert_eq!(inbox["unread"]["count"].as_i64(), Some(0));
    assert_eq!(inbox["unread"]["version"].as_i64(), Some(0));
}

/// A change to a subscriber's pair counts the shared items meant for them and folds
/// past the ones of their block meant for others.
#[tokio::test]
async fn a_change_to_a_pair_counts_only_the_shared_items_meant_for_its_subscriber() {
    let app = app_with(&["ana", "ben", "cy"]).await;
    let ana = subscriber_id(&app, "ana").await;
    let cy = subscriber_id(&app, "cy").await;
    let block = |id: i64| herald_core::blocks::block_of(id).0;
    assert_eq!(
        block(ana),
        block(cy),
        "a fresh database's ids share a block"
    );
    let key = app.api_key(&["messages:send"]).await;
    let to = |recipients: &[&str]| {
        json!({ "recipients": recipients, "channels": ["inbox"], "category": "news",
            "content": { "inbox": { "title": "Sale" } } })
    };

    send(&app, &key, to(&["ana", "ben"])).await;
    send(&app, &key, to(&["ben", "cy"])).await;
    // One recipient: a personal item, which writes ana's pair.
    send(&app, &key, to(&["ana"])).await;

    let state = stored(&app, "ana")
        .await
        .expect("a personal item stores the pair");
    assert_eq!(
        (state.unread, state.version),
        (2, 2),
        "one shared, one personal"
    );
    let newest_shared = ids(&inbox_of(&app, "ben").await)[0];
    assert_eq!(state.shared_through, newest_shared);
    let inbox = inbox_of(&app, "ana").await;
    assert_eq!(ids(&inbox).len(), 2);
    assert_eq!(inbox["unread"]["count"], 2);
    assert_eq!(inbox["unread"]["version"], 2);
}

/// The subscriber's unread pair as stored, if any was.
async fn stored(
    app: &TestApp,
    external_id: &str,
) -> Option<herald_core::entities::inbox_state::Model> {
    let id = subscriber_id(app, external_id).await;
    herald_core::entities::inbox_state::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
}
