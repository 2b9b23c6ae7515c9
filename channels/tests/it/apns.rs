//! APNs against the stand-in that speaks HTTP/2 over TLS, with a certificate from a
//! test CA the channel is told to trust.

use herald_channels::apns::{ApnsChannel, ApnsConfig, apns_id_for};
use herald_channels::{Channel, DeliveryOutcome, IdempotencyKey, Message, PushMessage};
use serde_json::json;

use crate::support::delivery;
use crate::support::push::apns::FakeApns;

async fn start() -> (FakeApns, ApnsChannel) {
    let apple = FakeApns::start().await;
    let config: ApnsConfig = serde_json::from_value(apple.settings()).unwrap();
    (apple, ApnsChannel::new(&config).unwrap())
}

fn push(key: &str, token: &str) -> herald_channels::Delivery {
    delivery(
        key,
        Message::Push(PushMessage {
            token: token.into(),
            title: "Order shipped".into(),
            body: "Your parcel is on its way".into(),
            data: [("order_id".to_owned(), "A-17".to_owned())].into(),
        }),
    )
}

#[tokio::test]
async fn sends_over_http2_with_a_cached_provider_token() {
    let (apple, channel) = start().await;

    let first = channel.send(&push("apns-1", "a1b2c3")).await;
    let second = channel.send(&push("apns-2", "d4e5f6")).await;

    let expected_id = apns_id_for(&IdempotencyKey::parse("apns-1").unwrap());
    assert_eq!(
        first,
        DeliveryOutcome::Delivered {
            provider_message_id: Some(expected_id.clone()),
            response: "200 OK".into()
        }
    );
    assert!(second.is_delivered());
    let requests = apple.requests();
    assert_eq!(requests[0].0["apns-id"], expected_id.as_str());
    assert_eq!(
        requests[0].1,
        json!({ "aps": { "alert": { "title": "Order shipped", "body": "Your parcel is on its way" } }, "order_id": "A-17" })
    );
    assert_eq!(
        requests[0].0["authorization"], requests[1].0["authorization"],
        "the provider token is reused, not re-signed per request"
    );
}

#[tokio::test]
async fn unregistered_devices_are_dead_and_errors_are_classified() {
    let (_apple, channel) = start().await;
    let outcome = channel.send(&push("k1", "0410")).await;
    assert!(
        matches!(&outcome, DeliveryOutcome::Permanent { endpoint_dead: true, reason } if reason.contains("Unregistered")),
        "{outcome:?}"
    );
    let outcome = channel.send(&push("k2", "0400")).await;
    assert!(
        matches!(&outcome, DeliveryOutcome::Permanent { endpoint_dead: false, reason } if reason.contains("BadDeviceToken")),
        "{outcome:?}"
    );
    assert!(matches!(
        channel.send(&push("k3", "0429")).await,
        DeliveryOutcome::Retryable { .. }
    ));
    assert!(matches!(
        channel.send(&push("k4", "0503")).await,
        DeliveryOutcome::Retryable { .. }
    ));
}

#[tokio::test]
async fn a_token_that_is_not_hexadecimal_is_dead_without_a_request() {
    let (apple, channel) = start().await;
    let outcome = channel.send(&push("k5", "not-a-device-token")).await;
    assert!(
        matches!(
            outcome,
            DeliveryOutcome::Permanent {
                endpoint_dead: true,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert!(apple.requests().is_empty());
}

#[tokio::test]
async fn a_server_whose_certificate_is_not_trusted_gets_no_request() {
    let apple = FakeApns::start().await;
    let mut settings = apple.settings();
    settings["http"] = json!({});
    let config: ApnsConfig = serde_json::from_value(settings).unwrap();
    let channel = ApnsChannel::new(&config).unwrap();
    let outcome = channel.send(&push("k6", "a1b2c3")).await;
    assert!(
        matches!(outcome, DeliveryOutcome::Retryable { .. }),
        "{outcome:?}"
    );
    assert!(apple.requests().is_empty());
}
