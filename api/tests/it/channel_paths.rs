//! Campaigns delivered by the worker over each channel plugin to a real peer: an SMTP
//! server over TCP, the MQTT broker on this machine, and stand-ins for FCM, APNs
//! (HTTP/2 over TLS, a test CA) and JPush that check what the real providers check.
//! The webhook and inbox paths are covered by `campaign_run` and `delivery_send`.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use herald_core::access::Role;
use reqwest::Method;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};

use crate::campaign_run::scheduled_campaign_on;
use crate::helpers::{Session, spawn_app};
use crate::support::push::{apns::FakeApns, fcm::FakeFcm, jpush::FakeJpush};
use crate::support::smtp;

/// Subscribers `ids`, each with the fields `fields(id)`.
async fn subscribers(admin: &Session, ids: &[String], fields: impl Fn(&str) -> Value) {
    for id in ids {
        admin
            .ok(Method::PUT, &format!("/v1/subscribers/{id}"), &fields(id))
            .await;
    }
}

async fn delivered(app: &crate::helpers::TestApp, channel: &str) -> usize {
    use herald_core::entities::delivery;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    delivery::Entity::find()
        .filter(delivery::Column::Channel.eq(channel))
        .filter(delivery::Column::Status.eq("delivered"))
        .all(&app.db)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_campaign_reaches_an_smtp_server_through_the_worker() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let server = smtp::SmtpServer::start().await;
    admin
        .ok(
            Method::POST,
            "/v1/channels",
            &json!({ "name": "mail", "settings": { "kind": "smtp", "host": "127.0.0.1",
                "port": server.addr.port(), "security": "plain" } }),
        )
        .await;
    let ids: Vec<String> = (0..3).map(|i| format!("reader{i}")).collect();
    subscribers(
        &admin,
        &ids,
        |id| json!({ "email": format!("{id}@example.com") }),
    )
    .await;
    let template = admin
        .ok(
            Method::POST,
            "/v1/templates",
            &json!({ "name": "letter", "content": { "email": {
                "subject": "Hello {{ subscriber.external_id }}",
                "text": "Spring is here." } } }),
        )
        .await;
    let template_id = template["template"]["id"].as_i64().unwrap();
    scheduled_campaign_on(
        &app,
        &admin,
        template_id,
        json!({ "kind": "now" }),
        json!(["email"]),
    )
    .await;

    let deliverer = app.deliverer().await;
    let round = deliverer.run_once(Utc::now()).await.unwrap();
    assert_eq!(round.delivered, 3, "{round:?}");
    assert_eq!(delivered(&app, "email").await, 3);

    let mails = server.mails();
    assert_eq!(mails.len(), 3);
    let to: BTreeSet<String> = mails.iter().flat_map(|m| m.rcpt_to.clone()).collect();
    let expected: BTreeSet<String> = ids.iter().map(|id| format!("{id}@example.com")).collect();
    assert_eq!(to, expected);
    for mail in &mails {
        let rcpt = &mail.rcpt_to[0];
        let id = rcpt.trim_end_matches("@example.com");
        assert_eq!(mail.header("Subject").unwrap(), format!("Hello {id}"));
        assert!(mail.data.contains("Spring is here."));
        let message_id = mail.header("Message-ID").unwrap();
        assert!(
            message_id.starts_with("<hd-") && message_id.ends_with("-email@localhost>"),
            "the delivery's key: {message_id}"
        );
        assert!(
            mail.header("List-Unsubscribe").is_some(),
            "one-click unsubscribe"
        );
    }
    // Each mail carries its own key.
    let keys: BTreeSet<String> = mails
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    assert_eq!(keys.len(), 3);
}

#[tokio::test]
async fn a_campaign_reaches_the_mqtt_broker_through_the_worker() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    admin
        .ok(
            Method::POST,
            "/v1/channels",
            &json!({ "name": "broker", "settings": { "kind": "mqtt", "host": "127.0.0.1",
                "port": 1883 } }),
        )
        .await;
    // The broker is shared by every test run on this machine: topics of their own.
    let run = uuid::Uuid::new_v4().simple().to_string();
    let ids: Vec<String> = (0..3).map(|i| format!("dev{i}-{run}")).collect();
    subscribers(&admin, &ids, |_| json!({})).await;

    let mut options = MqttOptions::new(format!("test-{run}"), "127.0.0.1", 1883);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = AsyncClient::new(options, 100);
    for id in &ids {
        client
            .subscribe(format!("herald/{id}/inbox"), QoS::AtLeastOnce)
            .await
            .unwrap();
    }
    let mut acked = 0;
    while acked < ids.len() {
        if let Event::Incoming(Packet::SubAck(_)) = events.poll().await.unwrap() {
            acked += 1;
        }
    }
    let receiving = tokio::spawn(async move {
        let mut got = Vec::new();
        while got.len() < 3 {
            if let Event::Incoming(Packet::Publish(publish)) = events.poll().await.unwrap() {
                got.push((
                    publish.topic.clone(),
                    serde_json::from_slice::<Value>(&publish.payload).unwrap(),
                ));
            }
        }
        got
    });

    let template = admin
        .ok(
            Method::POST,
            "/v1/templates",
            &json!({ "name": "signal", "content": { "mqtt": {
                "payload": r#"{"to": {{ subscriber.external_id }}, "cmd": "refresh"}"# } } }),
        )
        .await;
    let template_id = template["template"]["id"].as_i64().unwrap();
    scheduled_campaign_on(
        &app,
        &admin,
        template_id,
        json!({ "kind": "now" }),
        json!(["mqtt"]),
    )
    .await;
    let deliverer = app.deliverer().await;
    let round = deliverer.run_once(Utc::now()).await.unwrap();
    assert_eq!(round.delivered, 3, "{round:?}");
    assert_eq!(delivered(&app, "mqtt").await, 3);

    let mut got = tokio::time::timeout(Duration::from_secs(10), receiving)
        .await
        .expect("every device hears its message")
        .unwrap();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    for ((topic, payload), id) in got.iter().zip(&ids) {
        assert_eq!(topic, &format!("herald/{id}/inbox"));
        assert_eq!(payload, &json!({ "to": id, "cmd": "refresh" }));
    }
}

/// One campaign on the push channel reaches each device through its own provider:
/// FCM, APNs and JPush instances side by side, every device token where it belongs.
#[tokio::test]
async fn a_campaign_reaches_each_push_provider_through_the_worker() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (fcm, apns, jpush) = (
        FakeFcm::start().await,
        FakeApns::start().await,
        FakeJpush::start().await,
    );
    for (name, kind, mut settings) in [
        ("google", "fcm", fcm.settings()),
        ("apple", "apns", apns.settings()),
        ("jiguang", "jpush", jpush.settings()),
    ] {
        settings["kind"] = json!(kind);
        admin
            .ok(
                Method::POST,
                "/v1/channels",
                &json!({ "name": name, "settings": settings }),
            )
            .await;
    }
    let devices = [
        ("pixel", "fcm", "fcm-token-1"),
        ("iphone", "apns", "a1b2c3d4"),
        ("xiaomi", "jpush", "reg-7"),
    ];
    for (id, provider, token) in devices {
        admin
            .ok(Method::PUT, &format!("/v1/subscribers/{id}"), &json!({}))
            .await;
        admin
            .ok(
                Method::POST,
                &format!("/v1/subscribers/{id}/endpoints"),
                &json!({ "channel": "push", "provider": provider, "address": token }),
            )
            .await;
    }
    let template = admin
        .ok(
            Method::POST,
            "/v1/templates",
            &json!({ "name": "shipped", "content": { "push": {
                "title": "Hi {{ subscriber.external_id }}", "body": "Your parcel is on its way",
                "data": { "order": "A-17" } } } }),
        )
        .await;
    let template_id = template["template"]["id"].as_i64().unwrap();
    scheduled_campaign_on(
        &app,
        &admin,
        template_id,
        json!({ "kind": "now" }),
        json!(["push"]),
    )
    .await;

    let deliverer = app.deliverer().await;
    let round = deliverer.run_once(Utc::now()).await.unwrap();
    assert_eq!(round.delivered, 3, "{round:?}");
    assert_eq!(delivered(&app, "push").await, 3);

    let sends = fcm.sends();
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert_eq!(
        sends[0].1,
        json!({ "message": { "token": "fcm-token-1",
            "notification": { "title": "Hi pixel", "body": "Your parcel is on its way" },
            "data": { "order": "A-17" } } })
    );
    let requests = apns.requests();
    assert_eq!(requests.len(), 1);
    let (headers, payload) = &requests[0];
    assert_eq!(
        payload,
        &json!({ "aps": { "alert": { "title": "Hi iphone", "body": "Your parcel is on its way" } },
            "order": "A-17" })
    );
    let apns_id = headers["apns-id"].to_str().unwrap();
    assert_eq!(
        apns_id.len(),
        36,
        "a UUID made from the delivery's key: {apns_id}"
    );
    let seen = jpush.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["audience"], json!({ "registration_id": ["reg-7"] }));
    assert_eq!(seen[0]["notification"]["android"]["title"], "Hi xiaomi");
    assert_eq!(
        seen[0]["notification"]["android"]["extras"]["order"],
        "A-17"
    );
}

/// A campaign that chooses its SMTP instance goes through that relay, not the first one
/// by name, with the sender and reply address its template names; a choice naming no
/// instance, or two of one kind, is refused with the field named.
#[tokio::test]
async fn a_campaign_goes_through_the_instance_it_chooses_with_its_templates_sender() {
    use crate::campaign_run::scheduled_campaign_with;
    use crate::helpers::error_of;

    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (transactional, marketing) = (
        smtp::SmtpServer::start().await,
        smtp::SmtpServer::start().await,
    );
    for (name, server) in [
        ("a-transactional", &transactional),
        ("b-marketing", &marketing),
    ] {
        admin
            .ok(
                Method::POST,
                "/v1/channels",
                &json!({ "name": name, "settings": { "kind": "smtp", "host": "127.0.0.1",
                    "port": server.addr.port(), "security": "plain" } }),
            )
            .await;
    }
    subscribers(
        &admin,
        &["reader".to_owned()],
        |_| json!({ "email": "reader@example.com" }),
    )
    .await;
    let template = admin
        .ok(
            Method::POST,
            "/v1/templates",
            &json!({ "name": "offer", "content": { "email": {
                "subject": "Spring offer", "text": "20% off.",
                "from": "Shop News <news@shop.example>", "reply_to": "care@shop.example" } } }),
        )
        .await;
    let template_id = template["template"]["id"].as_i64().unwrap();
    let refused = admin
        .post("/v1/templates")
        .json(&json!({ "name": "bad sender", "content": { "email": {
            "subject": "Hi", "text": "x", "from": "Shop News <not an address>" } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(refused, 422).await["field"], "content.email.from");

    for (instances, wrong) in [
        (json!(["c-nowhere"]), "no channel instance is named"),
        (
            json!(["a-transactional", "b-marketing"]),
            "two instances of kind smtp",
        ),
    ] {
        let refused = admin
            .post("/v1/campaigns")
            .json(
                &json!({ "name": "bad", "template_id": template_id, "audience_id": 1,
                "channels": ["email"], "schedule": { "kind": "now" }, "category": "news",
                "instances": instances }),
            )
            .send()
            .await
            .unwrap();
        let error = error_of(refused, 422).await;
        assert_eq!(error["field"], "instances", "{error}");
        assert!(
            error["message"].as_str().unwrap().contains(wrong),
            "{error}"
        );
    }

    let id = scheduled_campaign_with(
        &app,
        &admin,
        json!({ "template_id": template_id, "channels": ["email"], "schedule": { "kind": "now" },
            "instances": ["b-marketing"] }),
    )
    .await;
    let campaign = admin.get_json(&format!("/v1/campaigns/{id}")).await;
    assert_eq!(campaign["instances"], json!(["b-marketing"]));
    let deliverer = app.deliverer().await;
    let round = deliverer.run_once(Utc::now()).await.unwrap();
    assert_eq!(round.delivered, 1, "{round:?}");
    assert_eq!(
        transactional.mail_count(),
        0,
        "not the first instance by name"
    );
    let mails = marketing.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(
        mails[0].header("From").as_deref(),
        Some("\"Shop News\" <news@shop.example>")
    );
    assert_eq!(
        mails[0].header("Reply-To").as_deref(),
        Some("care@shop.example")
    );

    // An API send chooses too.
    let key = app.api_key(&["messages:send"]).await;
    let response = app
        .anonymous()
        .post(app.url("/v1/messages"))
        .bearer_auth(&key)
        .json(
            &json!({ "recipients": ["reader"], "channels": ["email"], "category": "orders",
            "template_id": template_id, "instances": ["a-transactional"] }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let round = deliverer.run_once(Utc::now()).await.unwrap();
    assert_eq!(round.delivered, 1, "{round:?}");
    assert_eq!((transactional.mail_count(), marketing.mail_count()), (1, 1));
}

#[tokio::test]
async fn an_instance_a_campaign_chose_stays_until_the_campaign_no_longer_needs_it() {
    use crate::campaign_run::scheduled_campaign_with;
    use crate::helpers::error_of;

    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    for name in ["a-transactional", "b-marketing"] {
        admin
            .ok(
                Method::POST,
                "/v1/channels",
                &json!({ "name": name, "settings": { "kind": "smtp", "host": "127.0.0.1",
                    "port": 2525, "security": "plain" } }),
            )
            .await;
    }
    let template = admin
        .ok(
            Method::POST,
            "/v1/templates",
            &json!({ "name": "offer", "content": { "email": { "subject": "Offer", "text": "x" } } }),
        )
        .await;
    let at = (Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let id = scheduled_campaign_with(
        &app,
        &admin,
        json!({ "template_id": template["template"]["id"], "channels": ["email"],
            "schedule": { "kind": "at", "at": at }, "instances": ["b-marketing"] }),
    )
    .await;

    let smtp = |name: &str, enabled: bool| {
        json!({ "name": name, "enabled": enabled, "settings": { "kind": "smtp",
            "host": "127.0.0.1", "port": 2525, "security": "plain" } })
    };
    let refusals = [
        admin.delete("/v1/channels/b-marketing"),
        admin
            .put("/v1/channels/b-marketing")
            .json(&smtp("b-marketing", false)),
        admin
            .put("/v1/channels/b-marketing")
            .json(&smtp("c-renamed", true)),
    ];
    for refusal in refusals {
        let error = error_of(refusal.send().await.unwrap(), 409).await;
        assert_eq!(error["code"], "in_use", "{error}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("\"b-marketing\"") && message.contains(&format!("campaign {id}")),
            "{message}"
        );
    }
    // The instance it did not choose is free, and a change that keeps the choice valid
    // is allowed.
    admin
        .ok(
            Method::PUT,
            "/v1/channels/b-marketing",
            &smtp("b-marketing", true),
        )
        .await;
    let response = admin
        .delete("/v1/channels/a-transactional")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);

    admin
        .ok(
            Method::POST,
            &format!("/v1/campaigns/{id}/cancel"),
            &json!({}),
        )
        .await;
    let response = admin
        .delete("/v1/channels/b-marketing")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        204,
        "nothing chooses it any more"
    );
}

#[tokio::test]
async fn editors_see_which_instances_they_may_choose_but_not_their_settings() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    for (name, enabled) in [("a-hooks", false), ("b-hooks", true), ("c-hooks", true)] {
        admin
            .ok(
                Method::POST,
                "/v1/channels",
                &json!({ "name": name, "enabled": enabled, "settings": { "kind": "webhook",
                    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" } }),
            )
            .await;
    }
    let editor = app.operator(Role::Editor).await;
    let choices = editor.get_json("/v1/channel-choices").await;
    assert_eq!(
        choices,
        json!([
            { "name": "a-hooks", "kind": "webhook", "channel": "webhook", "enabled": false, "default": false },
            { "name": "b-hooks", "kind": "webhook", "channel": "webhook", "enabled": true, "default": true },
            { "name": "c-hooks", "kind": "webhook", "channel": "webhook", "enabled": true, "default": false },
        ]),
        "the first enabled instance of a kind is its default; no settings, no secrets"
    );
}
