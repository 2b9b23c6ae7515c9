//! MQTT against the Mosquitto broker on 127.0.0.1:1883, with a real rumqttc
//! subscriber on the other side. Timeouts below are backstops against a hang,
//! not part of what is asserted.

use std::collections::BTreeSet;
use std::time::Duration;

use herald_channels::mqtt::{MqttChannel, MqttConfig, TopicTemplate};
use herald_channels::{Channel, DeliveryOutcome, Message, MqttMessage};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use tokio::time::timeout;

use crate::support::delivery;
use crate::support::http::closed_port;

const BACKSTOP: Duration = Duration::from_secs(10);

fn channel(port: u16, max_in_flight: u16) -> MqttChannel {
    let config: MqttConfig = serde_json::from_value(serde_json::json!({
        "host": "127.0.0.1",
        "port": port,
        "max_in_flight": max_in_flight,
        "ack_timeout_ms": 5000
    }))
    .unwrap();
    MqttChannel::new(&config).unwrap()
}

/// A subscriber whose SUBACK has arrived, so nothing published after this is missed.
async fn subscribe(topic: &str) -> (AsyncClient, EventLoop) {
    let id = format!("herald-it-sub-{:08x}", rand::random::<u32>());
    let (client, mut events) = AsyncClient::new(MqttOptions::new(id, "127.0.0.1", 1883), 64);
    client.subscribe(topic, QoS::AtLeastOnce).await.unwrap();
    timeout(BACKSTOP, async {
        loop {
            if let Event::Incoming(Packet::SubAck(_)) = events.poll().await.unwrap() {
                return;
            }
        }
    })
    .await
    .expect("the broker on 127.0.0.1:1883 acknowledges the subscription");
    (client, events)
}

async fn next_payloads(events: &mut EventLoop, topic: &str, count: usize) -> Vec<Vec<u8>> {
    let mut payloads = Vec::new();
    timeout(BACKSTOP, async {
        while payloads.len() < count {
            if let Event::Incoming(Packet::Publish(publish)) = events.poll().await.unwrap() {
                assert_eq!(publish.topic, topic);
                payloads.push(publish.payload.to_vec());
            }
        }
    })
    .await
    .expect("the subscriber receives every message");
    payloads
}

fn unique_topic() -> String {
    let subscriber = format!("sub-{:08x}", rand::random::<u32>());
    TopicTemplate::parse("herald/{subscriber}/inbox")
        .unwrap()
        .render(&subscriber)
        .unwrap()
}

#[tokio::test]
async fn a_subscriber_receives_the_message_after_the_puback() {
    let topic = unique_topic();
    let (_subscriber, mut events) = subscribe(&topic).await;
    let channel = channel(1883, 16);

    let message = MqttMessage {
        topic: topic.clone(),
        payload: br#"{"title":"hello"}"#.to_vec(),
    };
    let outcome = channel
        .send(&delivery("mqtt-1", Message::Mqtt(message)))
        .await;

    assert_eq!(outcome, DeliveryOutcome::delivered(None, "PUBACK"));
    assert_eq!(
        next_payloads(&mut events, &topic, 1).await,
        vec![br#"{"title":"hello"}"#.to_vec()]
    );
}

#[tokio::test]
async fn a_batch_larger_than_the_in_flight_limit_is_delivered_whole() {
    let topic = unique_topic();
    let (_subscriber, mut events) = subscribe(&topic).await;
    let channel = channel(1883, 4);
    let batch: Vec<_> = (0..40)
        .map(|n| {
            let message = MqttMessage {
                topic: topic.clone(),
                payload: format!("m{n:02}").into_bytes(),
            };
            delivery(&format!("mqtt-batch-{n}"), Message::Mqtt(message))
        })
        .collect();

    let outcomes = channel.send_batch(&batch).await;

    assert!(
        outcomes.iter().all(DeliveryOutcome::is_delivered),
        "{outcomes:?}"
    );
    let received: BTreeSet<_> = next_payloads(&mut events, &topic, 40)
        .await
        .into_iter()
        .collect();
    let expected: BTreeSet<_> = (0..40).map(|n| format!("m{n:02}").into_bytes()).collect();
    assert_eq!(received, expected);
}

#[tokio::test]
async fn an_unreachable_broker_is_retryable() {
    let channel = channel(closed_port().await, 4);
    let message = MqttMessage {
        topic: "herald/x/inbox".into(),
        payload: b"x".to_vec(),
    };
    let outcome = channel
        .send(&delivery("mqtt-down", Message::Mqtt(message)))
        .await;
    assert!(
        matches!(&outcome, DeliveryOutcome::Retryable { reason, .. } if reason.contains("connection")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn wildcard_topics_are_refused() {
    let channel = channel(1883, 4);
    let message = MqttMessage {
        topic: "herald/+/inbox".into(),
        payload: b"x".to_vec(),
    };
    let outcome = channel
        .send(&delivery("mqtt-wild", Message::Mqtt(message)))
        .await;
    assert!(
        matches!(outcome, DeliveryOutcome::Permanent { .. }),
        "{outcome:?}"
    );
}
