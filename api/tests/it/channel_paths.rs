//! Campaigns delivered by the worker over each channel plugin to a real peer: an SMTP
//! server over TCP and the MQTT broker on this machine (issue 18, item 6). The webhook
//! and inbox paths are covered by `campaign_run` and `delivery_send`.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use herald_core::access::Role;
use herald_worker::deliver::Deliverer;
use reqwest::Method;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};

use crate::campaign_run::scheduled_campaign_on;
use crate::helpers::{Session, spawn_app, test_config};

#[allow(dead_code)] // the channels crate's tests use all of it; these, the plain server
#[path = "../../../channels/tests/it/support/smtp.rs"]
mod smtp;

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

    let deliverer = Deliverer::new(app.db.clone(), &test_config())
        .await
        .unwrap();
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
    let deliverer = Deliverer::new(app.db.clone(), &test_config())
        .await
        .unwrap();
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
