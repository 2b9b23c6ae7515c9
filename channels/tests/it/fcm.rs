//! FCM HTTP v1 against the stand-in for Google's token endpoint and `messages:send`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use herald_channels::fcm::{FcmChannel, FcmConfig};
use herald_channels::{Channel, DeliveryOutcome, Message, PushMessage};
use serde_json::json;

use crate::support::delivery;
use crate::support::push::fcm::FakeFcm;

async fn start() -> (FakeFcm, FcmChannel) {
    let google = FakeFcm::start().await;
    let config: FcmConfig = serde_json::from_value(google.settings()).unwrap();
    (google, FcmChannel::new(&config).unwrap())
}

fn push(token: &str) -> herald_channels::Delivery {
    delivery(
        "fcm-1",
        Message::Push(PushMessage {
            token: token.into(),
            title: "Order shipped".into(),
            body: "Your parcel is on its way".into(),
            data: [("order_id".to_owned(), "A-17".to_owned())].into(),
        }),
    )
}

#[tokio::test]
async fn exchanges_a_signed_assertion_once_and_sends_the_v1_format() {
    let (google, channel) = start().await;

    let first = channel.send(&push("device-a")).await;
    let second = channel.send(&push("device-b")).await;

    let DeliveryOutcome::Delivered {
        provider_message_id,
        ..
    } = first
    else {
        panic!("{first:?}")
    };
    assert!(
        provider_message_id
            .unwrap()
            .starts_with("projects/herald-test/messages/")
    );
    assert!(second.is_delivered());
    assert_eq!(
        google.issued.load(Ordering::SeqCst),
        1,
        "the access token is cached"
    );
    let sends = google.sends();
    assert_eq!(sends.len(), 2);
    let (bearer, body) = &sends[0];
    assert_eq!(bearer, "Bearer ya29.token-1");
    assert_eq!(
        body,
        &json!({ "message": {
            "token": "device-a",
            "notification": { "title": "Order shipped", "body": "Your parcel is on its way" },
            "data": { "order_id": "A-17" }
        }})
    );
}

#[tokio::test]
async fn unregistered_tokens_mark_the_endpoint_dead() {
    let (_google, channel) = start().await;
    for token in ["uninstalled", "unregistered-400"] {
        let outcome = channel.send(&push(token)).await;
        assert!(
            matches!(&outcome, DeliveryOutcome::Permanent { endpoint_dead: true, reason } if reason.contains("UNREGISTERED")),
            "{token}: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn throttling_and_outages_retry_while_other_client_errors_are_permanent() {
    let (_google, channel) = start().await;
    let outcome = channel.send(&push("throttled")).await;
    assert!(
        matches!(outcome, DeliveryOutcome::Retryable { retry_after: Some(after), .. } if after == Duration::from_secs(30)),
        "{outcome:?}"
    );
    let outcome = channel.send(&push("unavailable")).await;
    assert!(
        matches!(outcome, DeliveryOutcome::Retryable { .. }),
        "{outcome:?}"
    );
    let outcome = channel.send(&push("malformed")).await;
    assert!(
        matches!(
            outcome,
            DeliveryOutcome::Permanent {
                endpoint_dead: false,
                ..
            }
        ),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_refused_access_token_is_replaced_on_the_next_attempt() {
    let (google, channel) = start().await;
    google.revoke_first_token.store(true, Ordering::SeqCst);

    let outcome = channel.send(&push("device-a")).await;
    assert!(
        matches!(outcome, DeliveryOutcome::Retryable { .. }),
        "{outcome:?}"
    );
    assert!(channel.send(&push("device-a")).await.is_delivered());

    assert_eq!(google.issued.load(Ordering::SeqCst), 2);
    let bearers: Vec<_> = google
        .sends
        .lock()
        .unwrap()
        .iter()
        .map(|(b, _)| b.clone())
        .collect();
    assert_eq!(bearers, vec!["Bearer ya29.token-1", "Bearer ya29.token-2"]);
}

#[tokio::test]
async fn refused_credentials_are_permanent_and_nothing_is_sent() {
    let (google, channel) = start().await;
    google.refuse_grants.store(true, Ordering::SeqCst);
    let outcome = channel.send(&push("device-a")).await;
    assert!(
        matches!(&outcome, DeliveryOutcome::Permanent { reason, .. } if reason.contains("invalid_grant")),
        "{outcome:?}"
    );
    assert!(google.sends.lock().unwrap().is_empty());
}
