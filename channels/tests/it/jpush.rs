//! JPush v3 against the stand-in that checks basic auth and the request format.

use std::time::Duration;

use herald_channels::jpush::{JpushChannel, JpushConfig};
use herald_channels::{Channel, DeliveryOutcome, Message, PushMessage};
use serde_json::json;

use crate::support::delivery;
use crate::support::push::jpush::FakeJpush;

async fn start(master_secret: &str) -> (FakeJpush, JpushChannel) {
    let jpush = FakeJpush::start().await;
    let mut settings = jpush.settings();
    settings["master_secret"] = json!(master_secret);
    let config: JpushConfig = serde_json::from_value(settings).unwrap();
    (jpush, JpushChannel::new(&config).unwrap())
}

fn push(token: &str) -> herald_channels::Delivery {
    delivery(
        "jpush-1",
        Message::Push(PushMessage {
            token: token.into(),
            title: "Order shipped".into(),
            body: "Your parcel is on its way".into(),
            data: [("order_id".to_owned(), "A-17".to_owned())].into(),
        }),
    )
}

#[tokio::test]
async fn sends_the_v3_format_with_basic_auth() {
    let (seen, channel) = start("master-secret-1").await;
    let outcome = channel.send(&push("reg-1")).await;
    let DeliveryOutcome::Delivered {
        provider_message_id,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(provider_message_id.as_deref(), Some("54043195528503331"));
    let body = seen.seen()[0].clone();
    assert_eq!(body["platform"], "all");
    assert_eq!(body["audience"], json!({ "registration_id": ["reg-1"] }));
    assert_eq!(body["notification"]["android"]["title"], "Order shipped");
    assert_eq!(
        body["notification"]["android"]["extras"]["order_id"],
        "A-17"
    );
    assert_eq!(
        body["notification"]["ios"]["alert"]["body"],
        "Your parcel is on its way"
    );
    assert_eq!(body["options"]["apns_production"], false);
}

#[tokio::test]
async fn unknown_registrations_are_dead_and_throttling_waits_for_the_reset() {
    let (_seen, channel) = start("master-secret-1").await;
    let outcome = channel.send(&push("unknown")).await;
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
    let outcome = channel.send(&push("throttled")).await;
    assert!(
        matches!(outcome, DeliveryOutcome::Retryable { retry_after: Some(after), .. } if after == Duration::from_secs(42)),
        "{outcome:?}"
    );
    assert!(matches!(
        channel.send(&push("down")).await,
        DeliveryOutcome::Retryable { .. }
    ));
}

#[tokio::test]
async fn wrong_credentials_are_permanent() {
    let (seen, channel) = start("not-the-secret").await;
    let outcome = channel.send(&push("reg-1")).await;
    assert!(
        matches!(&outcome, DeliveryOutcome::Permanent { endpoint_dead: false, reason } if reason.contains("1004")),
        "{outcome:?}"
    );
    assert!(seen.seen().is_empty());
}
