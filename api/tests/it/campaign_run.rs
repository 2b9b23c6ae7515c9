//! Campaigns run by the worker: started once when due, planned over the audience,
//! sent to a real webhook receiver, held while paused, ended when cancelled, and
//! completed when every delivery is final.

use chrono::Utc;
use herald_core::access::Role;
use herald_core::deliveries::ledger::slots_taken;
use herald_core::entities::{delivery, delivery_attempt, inbox_item, send_ledger};
use herald_core::inbox::Signal;
use herald_core::rules::revision::RulesCache;
use herald_worker::deliver::Deliverer;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::delivery_send::{ping, receiver, setup};
use crate::helpers::{Session, TestApp, spawn_app, test_config};
use crate::inbox_stream::subscriber_id;

/// A campaign to everyone over webhooks, approved by a reviewer and scheduled.
async fn scheduled_campaign(
    app: &TestApp,
    admin: &Session,
    template_id: i64,
    schedule: Value,
) -> i64 {
    scheduled_campaign_on(app, admin, template_id, schedule, json!(["webhook"])).await
}

/// A campaign to everyone over `channels`, approved by a reviewer and scheduled.
pub(crate) async fn scheduled_campaign_on(
    app: &TestApp,
    admin: &Session,
    template_id: i64,
    schedule: Value,
    channels: Value,
) -> i64 {
    let fields = json!({ "template_id": template_id, "channels": channels, "schedule": schedule });
    scheduled_campaign_with(app, admin, fields).await
}

/// A campaign to everyone with `fields` (template, channels, schedule, …) over the
/// defaults, approved by a reviewer and scheduled.
pub(crate) async fn scheduled_campaign_with(app: &TestApp, admin: &Session, fields: Value) -> i64 {
    let audience = admin
        .ok(
            Method::POST,
            "/v1/audiences",
            &json!({ "name": format!("everyone {}", unique_suffix()), "kind": "all" }),
        )
        .await;
    let mut body = json!({ "name": "launch", "audience_id": audience["id"], "category": "news" });
    for (key, value) in fields.as_object().unwrap() {
        body[key] = value.clone();
    }
    let campaign = admin.ok(Method::POST, "/v1/campaigns", &body).await;
    let id = campaign["id"].as_i64().unwrap();
    let reviewer = app.operator(Role::Reviewer).await;
    admin
        .ok(
            Method::POST,
            &format!("/v1/campaigns/{id}/submit"),
            &json!({}),
        )
        .await;
    reviewer
        .ok(
            Method::POST,
            &format!("/v1/campaigns/{id}/approve"),
            &json!({ "comment": "ok" }),
        )
        .await;
    admin
        .ok(
            Method::POST,
            &format!("/v1/campaigns/{id}/schedule"),
            &json!({}),
        )
        .await;
    id
}

/// A name no other test object has.
fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed).to_string()
}

async fn status(admin: &Session, id: i64) -> String {
    let campaign = admin.get_json(&format!("/v1/campaigns/{id}")).await;
    campaign["status"].as_str().unwrap().to_owned()
}

async fn deliveries_with(app: &TestApp, status: &str) -> usize {
    delivery::Entity::find()
        .filter(delivery::Column::Status.eq(status))
        .all(&app.db)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_campaign_runs_once_pauses_resumes_and_completes() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (base, seen) = receiver().await;
    let subscribers: Vec<(String, String)> = (0..5)
        .map(|i| (format!("s{i}"), format!("{base}/ok")))
        .collect();
    let template_id = setup(
        &admin,
        ping(r#"{"hello": {{ subscriber.external_id }}}"#),
        &subscribers,
    )
    .await;
    let id = scheduled_campaign(&app, &admin, template_id, json!({ "kind": "now" })).await;

    // Two workers' rounds at once: the campaign starts and is planned once (either
    // may also send what the other planned). Then every subscriber gets it once.
    let config = test_config();
    let (first, second) = (
        Deliverer::new(app.db.clone(), &config).await.unwrap(),
        Deliverer::new(app.db.clone(), &config).await.unwrap(),
    );
    let now = Utc::now();
    let (a, b) = tokio::join!(first.run_once(now), second.run_once(now));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.planned + b.planned, 5, "{a:?} {b:?}");
    let (a, b) = tokio::join!(first.run_once(now), second.run_once(now));
    assert_eq!(a.unwrap().planned + b.unwrap().planned, 0);
    assert_eq!(deliveries_with(&app, "delivered").await, 5);
    assert_eq!(
        status(&admin, id).await,
        "completed",
        "all deliveries final"
    );
    assert_eq!(seen.ids("ok").len(), 5);
    assert_eq!(
        first.run_once(Utc::now()).await.unwrap(),
        Default::default(),
        "nothing left to do"
    );

    // A second campaign, paused once started and cut into pages: its page is decided
    // but nothing goes out until it resumes.
    let id = scheduled_campaign(&app, &admin, template_id, json!({ "kind": "now" })).await;
    assert_eq!(
        first.advance_campaigns(Utc::now()).await.unwrap(),
        1,
        "one page"
    );
    admin
        .ok(
            Method::POST,
            &format!("/v1/campaigns/{id}/pause"),
            &json!({}),
        )
        .await;
    let round = first.run_once(Utc::now()).await.unwrap();
    assert_eq!((round.planned, round.delivered), (5, 0));
    assert_eq!(deliveries_with(&app, "queued").await, 5);
    admin
        .ok(
            Method::POST,
            &format!("/v1/campaigns/{id}/resume"),
            &json!({}),
        )
        .await;
    assert_eq!(first.run_once(Utc::now()).await.unwrap().delivered, 5);
    assert_eq!(status(&admin, id).await, "completed");
    assert_eq!(seen.ids("ok").len(), 10);
}

#[tokio::test]
async fn cancelling_ends_what_was_not_sent() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (base, seen) = receiver().await;
    let template_id = setup(
        &admin,
        ping(r#"{"n": 1}"#),
        &[("a", format!("{base}/ok")), ("b", format!("{base}/ok"))],
    )
    .await;
    let id = scheduled_campaign(&app, &admin, template_id, json!({ "kind": "now" })).await;
    let deliverer = app.deliverer().await;
    assert_eq!(deliverer.advance_campaigns(Utc::now()).await.unwrap(), 1);
    admin
        .ok(
            Method::POST,
            &format!("/v1/campaigns/{id}/cancel"),
            &json!({ "comment": "wrong list" }),
        )
        .await;
    // Its page still runs, and writes down why nothing was sent.
    let round = deliverer.run_once(Utc::now()).await.unwrap();
    assert_eq!((round.planned, round.delivered), (2, 0));
    assert_eq!(deliveries_with(&app, "cancelled").await, 2);
    assert!(seen.ids("ok").is_empty());
    assert_eq!(status(&admin, id).await, "cancelled");
}

#[tokio::test]
async fn a_local_time_campaign_reaches_each_zone_at_its_own_hour() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (base, seen) = receiver().await;
    let template_id = setup(
        &admin,
        ping(r#"{"n": 1}"#),
        &[
            ("tokyo", format!("{base}/ok")),
            ("utc", format!("{base}/ok")),
        ],
    )
    .await;
    admin
        .ok(
            Method::PUT,
            "/v1/subscribers/tokyo",
            &json!({ "timezone": "Asia/Tokyo" }),
        )
        .await;
    let date = Utc::now().date_naive() + chrono::Days::new(2);
    let id = scheduled_campaign(
        &app,
        &admin,
        template_id,
        json!({ "kind": "local_time", "date": date.to_string(), "time": "09:00" }),
    )
    .await;
    let deliverer = app.deliverer().await;

    // The campaign starts as soon as 09:00 has come anywhere (UTC+14); everyone waits
    // for their own 09:00. In Tokyo that is midnight UTC.
    let midnight = date.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let round = deliverer
        .run_once(midnight - chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!((round.planned, round.delivered), (2, 0));
    assert_eq!(deliveries_with(&app, "deferred").await, 2);
    let round = deliverer.run_once(midnight).await.unwrap();
    assert_eq!((round.reconsidered, round.delivered), (1, 1), "{round:?}");
    assert_eq!(status(&admin, id).await, "running");

    let nine = date.and_hms_opt(9, 0, 0).unwrap().and_utc();
    let round = deliverer.run_once(nine).await.unwrap();
    assert_eq!((round.reconsidered, round.delivered), (1, 1), "{round:?}");
    assert_eq!(status(&admin, id).await, "completed");
    assert_eq!(seen.ids("ok").len(), 2);
}

#[tokio::test]
async fn counters_follow_a_campaign_as_it_runs() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (base, _seen) = receiver().await;
    let template_id = setup(
        &admin,
        ping(r#"{"n": 1}"#),
        &[
            ("ok1", format!("{base}/ok")),
            ("ok2", format!("{base}/ok")),
            ("bad", format!("{base}/bad")),
            ("down", format!("{base}/down")),
            ("blocked", format!("{base}/ok?blocked")),
        ],
    )
    .await;
    admin
        .ok(Method::PUT, "/v1/subscribers/nowhere", &json!({}))
        .await;
    admin
        .ok(
            Method::POST,
            "/v1/list-entries",
            &json!({ "list": "block", "kind": "endpoint", "value": format!("{base}/ok?blocked"),
                "channel": "webhook" }),
        )
        .await;
    let id = scheduled_campaign(&app, &admin, template_id, json!({ "kind": "now" })).await;
    let path = format!("/v1/campaigns/{id}/progress");

    let before = admin.get_json(&path).await;
    assert_eq!(before["status"], "scheduled");
    assert_eq!(before["planned"], false);
    assert_eq!(before["targeted"], 0);

    // The first round starts the campaign and runs its page: two delivered, one failed
    // for good, one waiting for its retry, two held back.
    let deliverer = app.deliverer().await;
    deliverer.run_once(Utc::now()).await.unwrap();
    let planned = admin.get_json(&path).await;
    assert_eq!(planned["status"], "running");
    assert_eq!(planned["planned"], true);
    let by_filter: Vec<(String, u64)> = planned["filtered_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["filter"].as_str().unwrap().to_owned(),
                f["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by_filter,
        [("blocked".to_owned(), 1), ("no_address".to_owned(), 1)]
    );

    let sent = planned;
    for (counter, expected) in [
        ("targeted", 6),
        ("sent", 4),
        ("delivered", 2),
        ("failed", 1),
        ("queued", 1),
        ("filtered", 2),
        ("dead", 0),
        ("deferred", 0),
    ] {
        assert_eq!(sent[counter].as_u64(), Some(expected), "{counter}: {sent}");
    }
    assert_eq!(sent["channels"][0]["channel"], "webhook");
    assert_eq!(sent["channels"][0]["delivered"], 2);
    assert_eq!(sent["status"], "running", "a retry is still due");

    let missing = admin
        .client
        .get(app.url("/v1/campaigns/999999/progress"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
}

/// A campaign's page stores its inbox items in the transaction that decides it, and
/// announces them at once; its other channels are sent, then written once each, with
/// their first attempt in the delivery's own row.
#[tokio::test]
async fn a_page_stores_inbox_items_and_writes_each_sent_delivery_once() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (base, seen) = receiver().await;
    let template = json!({ "name": "both", "content": {
        "inbox": { "title": "Hi {{ subscriber.external_id }}", "body": "News" },
        "webhook": { "payload": r#"{"n": 1}"# } } });
    let people = ["ana", "ben", "cy"].map(|id| (id, format!("{base}/ok")));
    let template_id = setup(&admin, template, &people).await;
    let mut signals = app.bus.subscribe(subscriber_id(&app, "ana").await);
    let id = scheduled_campaign_on(
        &app,
        &admin,
        template_id,
        json!({ "kind": "now" }),
        json!(["inbox", "webhook"]),
    )
    .await;
    let deliverer = app.deliverer().await.with_bus(app.bus.clone());

    let round = deliverer.run_once(Utc::now()).await.unwrap();
    assert_eq!((round.planned, round.delivered), (6, 3), "{round:?}");
    let items = inbox_item::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(items.len(), 3, "one item per subscriber");
    match signals.try_recv() {
        Ok(Signal::Items { items, .. }) => assert_eq!(items.unwrap()[0].title, "Hi ana"),
        other => panic!("ana's streams hear of her item: {other:?}"),
    }
    let by_channel = |channel: &'static str| {
        let db = app.db.clone();
        async move {
            delivery::Entity::find()
                .filter(delivery::Column::Channel.eq(channel))
                .all(&db)
                .await
                .unwrap()
        }
    };
    for inbox in by_channel("inbox").await {
        assert_eq!((inbox.status.as_str(), inbox.attempts), ("delivered", 1));
    }
    let webhooks = by_channel("webhook").await;
    assert_eq!(webhooks.len(), 3);
    for sent in &webhooks {
        assert_eq!((sent.status.as_str(), sent.attempts), ("delivered", 1));
        assert!(sent.first_attempt_at.is_some(), "{sent:?}");
        assert!(sent.created_at == sent.updated_at, "written once: {sent:?}");
    }
    let logged = delivery_attempt::Entity::find()
        .filter(delivery_attempt::Column::DeliveryId.is_in(webhooks.iter().map(|d| d.id)))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(logged, 0, "the first attempt lives in the delivery's row");
    let unnamed = send_ledger::Entity::find()
        .filter(send_ledger::Column::MessageId.is_null())
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(unnamed, 0, "each slot is reserved for its message");
    let slots = slots_taken(&app.db, None, None).await.unwrap();
    assert_eq!(slots, 6, "one slot per delivery");
    assert_eq!(seen.ids("ok").len(), 3);
    assert_eq!(status(&admin, id).await, "completed");

    // The delivery log shows the inline attempt like any other.
    let trace = admin
        .get_json(&format!("/v1/deliveries/{}", webhooks[0].id))
        .await;
    let attempts = trace["attempts_made"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{trace}");
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[0]["outcome"], "delivered");

    deliverer.run_once(Utc::now()).await.unwrap();
    assert_eq!(
        inbox_item::Entity::find().all(&app.db).await.unwrap().len(),
        3,
        "nothing stored twice"
    );
    assert_eq!(seen.ids("ok").len(), 3, "nothing sent twice");
}

/// A campaign paused while its audience is being planned stores no more inbox items:
/// each page checks, under a share lock on the campaign, that it still runs. Postgres
/// only: there a pause can commit between two pages' transactions (SQLite serialises
/// them with its single writer).
#[tokio::test]
async fn a_campaign_paused_while_it_is_planned_stores_no_more_inbox_items() {
    use herald_core::campaigns::dispatch::start_due;
    use herald_core::campaigns::pages::{claim, cut_pages, open_pages, prepare};
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};

    let app = spawn_app().await;
    if app.db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let admin = app.operator(Role::Admin).await;
    let (base, _) = receiver().await;
    let template = json!({ "name": "news", "content": {
        "inbox": { "title": "Hi {{ subscriber.external_id }}", "body": "News" } } });
    let people = ["ana", "ben"].map(|id| (id, format!("{base}/ok")));
    let template_id = setup(&admin, template, &people).await;
    let id = scheduled_campaign_on(
        &app,
        &admin,
        template_id,
        json!({ "kind": "now" }),
        json!(["inbox"]),
    )
    .await;
    let now = Utc::now();
    assert_eq!(start_due(&app.db, now).await.unwrap(), [id]);
    assert_eq!(cut_pages(&app.db, now).await.unwrap(), 1);
    let page = open_pages(&app.db).await.unwrap().remove(0);
    let page = claim(&app.db, page.id, "test", now).await.unwrap().unwrap();

    // Hold the campaign's row, as a pause does while it commits.
    let pause = app.db.begin().await.unwrap();
    pause
        .execute_unprepared(&format!(
            "SELECT id FROM campaigns WHERE id = {id} FOR UPDATE"
        ))
        .await
        .unwrap();
    let dispatching = {
        let db = app.db.clone();
        tokio::spawn(async move { prepare(&db, &page, &RulesCache::default(), now).await })
    };
    // The page is planned and waits for the campaign's row.
    let waiting = Statement::from_string(
        DbBackend::Postgres,
        "SELECT count(*) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    );
    loop {
        let row = app
            .db
            .query_one_raw(waiting.clone())
            .await
            .unwrap()
            .unwrap();
        // (A dispatch that ended without waiting fails the assertions below.)
        if row.try_get::<i64>("", "n").unwrap() > 0 || dispatching.is_finished() {
            break;
        }
        tokio::task::yield_now().await;
    }
    pause
        .execute_unprepared(&format!(
            "UPDATE campaigns SET status = 'paused' WHERE id = {id}"
        ))
        .await
        .unwrap();
    pause.commit().await.unwrap();

    let work = dispatching.await.unwrap().unwrap();
    assert_eq!(work.planned(), 2, "the page was planned");
    assert!(work.to_send.is_empty() && work.stored.is_empty());
    assert!(
        inbox_item::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .is_empty(),
        "nothing stored once paused"
    );
    assert_eq!(
        deliveries_with(&app, "queued").await,
        2,
        "held until resumed"
    );
}

/// A page whose worker died after it reserved its slots, before it wrote anything, is
/// run again by the same task (the job queue keeps the task's id): it sends what it had
/// reserved, without reserving it twice, and each delivery once. Another task cannot
/// take the page meanwhile.
#[tokio::test]
async fn a_page_run_again_after_a_crash_sends_what_it_reserved_once() {
    use herald_core::campaigns::pages::{claim, open_pages, prepare};

    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (base, seen) = receiver().await;
    let people: Vec<(String, String)> = (0..4)
        .map(|i| (format!("p{i}"), format!("{base}/ok")))
        .collect();
    let template_id = setup(&admin, ping(r#"{"n": 1}"#), &people).await;
    scheduled_campaign(&app, &admin, template_id, json!({ "kind": "now" })).await;
    let deliverer = app.deliverer().await;
    let now = Utc::now();
    assert_eq!(deliverer.advance_campaigns(now).await.unwrap(), 1);
    let page = open_pages(&app.db).await.unwrap().remove(0);

    // The first run reserves its slots, then its worker dies.
    let first = claim(&app.db, page.id, "task-a", now)
        .await
        .unwrap()
        .unwrap();
    assert!(first.first_run);
    let work = prepare(&app.db, &first, &RulesCache::default(), now)
        .await
        .unwrap();
    assert_eq!(work.to_send.len(), 4);
    let slots = || async { slots_taken(&app.db, None, None).await.unwrap() };
    assert_eq!(slots().await, 4);
    assert_eq!(
        deliverer.run_page(page.id, "task-b", now).await.unwrap(),
        None,
        "held by the first task"
    );

    let again = deliverer
        .run_page(page.id, "task-a", Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.planned, again.delivered), (4, 4), "{again:?}");
    assert_eq!(slots().await, 4, "no slot reserved twice");
    assert_eq!(deliveries_with(&app, "delivered").await, 4);
    assert_eq!(seen.ids("ok").len(), 4);
    assert!(open_pages(&app.db).await.unwrap().is_empty());
    assert_eq!(
        deliverer
            .run_page(page.id, "task-a", Utc::now())
            .await
            .unwrap(),
        None,
        "a page done is never run again"
    );
}

/// Keyword rules check each delivery as rendered for its subscriber, not only the
/// template's text: a banned word that arrives through a subscriber's own field holds
/// that delivery back (filtered, naming the rule, the word and the field), gives its
/// cap slot back, and sends the rest.
#[tokio::test]
async fn a_keyword_in_the_rendered_content_holds_that_delivery_back() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (base, seen) = receiver().await;
    let people = [
        ("ana", format!("{base}/ok")),
        ("casino-fan", format!("{base}/ok")),
    ];
    let template_id = setup(
        &admin,
        ping(r#"{"hello": {{ subscriber.external_id }}}"#),
        &people,
    )
    .await;
    // The template passed the keyword check when it was saved: it holds no banned word.
    let rule = admin
        .ok(
            Method::POST,
            "/v1/rules",
            &json!({ "name": "no gambling", "scope": "global", "kind": "keyword",
                "params": { "words": ["casino"] } }),
        )
        .await;
    let rule_id = rule["id"].as_i64().unwrap();
    scheduled_campaign(&app, &admin, template_id, json!({ "kind": "now" })).await;

    let deliverer = app.deliverer().await;
    let round = deliverer.run_once(Utc::now()).await.unwrap();
    assert_eq!((round.delivered, round.held), (1, 1), "{round:?}");
    assert_eq!(seen.ids("ok").len(), 1, "only ana's was sent");

    let held = delivery::Entity::find()
        .filter(delivery::Column::Status.eq("filtered"))
        .one(&app.db)
        .await
        .unwrap()
        .expect("the fan's delivery is filtered");
    assert_eq!(held.subscriber_id, subscriber_id(&app, "casino-fan").await);
    assert_eq!(held.filter.as_deref(), Some("keyword"));
    assert_eq!(held.rule_id, Some(rule_id));
    assert_eq!(
        held.reason.as_deref(),
        Some(
            format!("held back by keyword rule {rule_id}: `casino` in webhook.payload.hello")
                .as_str()
        )
    );
    assert_eq!(held.attempts, 0, "never attempted");
    let slots = slots_taken(&app.db, None, None).await.unwrap();
    assert_eq!(slots, 1, "the held delivery's slot was given back");
}

/// Webhook (and push) messages go to every enabled endpoint of a subscriber, one
/// delivery each with its own key, from a campaign and from an API send alike; a
/// disabled endpoint gets nothing, a subscriber without one is filtered for want of an
/// address, and the cap ledger counts one message per subscriber and channel.
#[tokio::test]
async fn a_message_goes_to_every_enabled_endpoint_of_a_subscriber() {
    use herald_core::entities::subscriber_endpoint;
    use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};

    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (base, seen) = receiver().await;
    let template_id = setup(
        &admin,
        ping(r#"{"n": 1}"#),
        &[("ana", format!("{base}/ok")), ("ben", format!("{base}/ok"))],
    )
    .await;
    let mut ana_endpoints = vec![];
    for device in ["tablet", "old-phone"] {
        let added = admin
            .ok(
                Method::POST,
                "/v1/subscribers/ana/endpoints",
                &json!({ "channel": "webhook", "address": format!("{base}/ok?device={device}") }),
            )
            .await;
        ana_endpoints.push(added["id"].as_i64().unwrap());
    }
    let old_phone = subscriber_endpoint::Entity::find_by_id(ana_endpoints[1])
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut disabled = old_phone.into_active_model();
    disabled.enabled = Set(false);
    disabled.update(&app.db).await.unwrap();
    admin
        .ok(Method::PUT, "/v1/subscribers/cy", &json!({}))
        .await;

    scheduled_campaign(&app, &admin, template_id, json!({ "kind": "now" })).await;
    let deliverer = app.deliverer().await;
    let round = deliverer.run_once(Utc::now()).await.unwrap();
    assert_eq!((round.delivered, round.failed), (3, 0), "{round:?}");

    let ana = subscriber_id(&app, "ana").await;
    let rows = delivery::Entity::find()
        .filter(delivery::Column::SubscriberId.eq(ana))
        .all(&app.db)
        .await
        .unwrap();
    let mut endpoints: Vec<i64> = rows.iter().map(|d| d.endpoint_id).collect();
    endpoints.sort_unstable();
    assert_eq!(endpoints.len(), 2, "{rows:?}");
    assert!(endpoints[0] > 0 && endpoints[1] == ana_endpoints[0]);
    let cy = subscriber_id(&app, "cy").await;
    let cys = delivery::Entity::find()
        .filter(delivery::Column::SubscriberId.eq(cy))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (cys.status.as_str(), cys.reason.as_deref(), cys.endpoint_id),
        ("filtered", Some("no enabled webhook endpoint"), 0)
    );
    let keys = seen.ids("ok");
    assert_eq!(keys.len(), 3, "ana's two devices and ben's one");
    let distinct: std::collections::HashSet<&String> = keys.iter().collect();
    assert_eq!(distinct.len(), 3, "each device has its own key: {keys:?}");
    let slots = slots_taken(&app.db, None, None).await.unwrap();
    assert_eq!(slots, 2, "one per subscriber and channel");

    // An API send fans out the same way.
    let key = app.api_key(&["messages:send"]).await;
    let response = app
        .anonymous()
        .post(app.url("/v1/messages"))
        .bearer_auth(&key)
        .json(
            &json!({ "recipients": ["ana"], "channels": ["webhook"], "category": "alerts",
            "content": { "webhook": { "payload": "{\"n\": 2}" } } }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let round = deliverer.run_once(Utc::now()).await.unwrap();
    assert_eq!(round.delivered, 2, "{round:?}");
    assert_eq!(seen.ids("ok").len(), 5);
}
