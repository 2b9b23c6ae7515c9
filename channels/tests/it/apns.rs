//! APNs against a local HTTP/2 server (h2c: the client is set to HTTP/2 prior
//! knowledge, the one setting that exists for tests).

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use herald_channels::apns::{ApnsChannel, ApnsConfig, apns_id_for};
use herald_channels::{Channel, DeliveryOutcome, IdempotencyKey, Message, PushMessage};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

use crate::support::delivery;
use crate::support::http::serve;
use crate::support::jwt::verify_es256;

const TEAM_ID: &str = "TEAM123456";
const KEY_ID: &str = "KEY987654A";
const TOPIC: &str = "com.example.herald";

#[derive(Clone)]
struct Apple {
    public_point: Arc<Vec<u8>>,
    requests: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

fn apns_error(status: StatusCode, reason: &str) -> Response {
    (
        status,
        Json(json!({ "reason": reason, "timestamp": 1_700_000_000_000u64 })),
    )
        .into_response()
}

async fn device(
    State(apple): State<Apple>,
    Path(token): Path<String>,
    version: Version,
    headers: HeaderMap,
    Json(payload): Json<Value>,
) -> Response {
    assert_eq!(version, Version::HTTP_2, "APNs speaks HTTP/2 only");
    let authorization = headers["authorization"].to_str().unwrap();
    let jwt = authorization.strip_prefix("bearer ").unwrap();
    let (header, claims) = verify_es256(jwt, &apple.public_point);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], KEY_ID);
    assert_eq!(claims["iss"], TEAM_ID);
    assert_eq!(headers["apns-topic"], TOPIC);
    assert_eq!(headers["apns-push-type"], "alert");
    let apns_id = headers["apns-id"].clone();
    apple.requests.lock().unwrap().push((headers, payload));
    match token.as_str() {
        "0410" => apns_error(StatusCode::GONE, "Unregistered"),
        "0400" => apns_error(StatusCode::BAD_REQUEST, "BadDeviceToken"),
        "0429" => apns_error(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests"),
        "0503" => apns_error(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
        _ => (StatusCode::OK, [("apns-id", apns_id)]).into_response(),
    }
}

/// A fresh P-256 key as the `.p8` PEM Apple hands out, and its public point.
fn signing_key() -> (String, Vec<u8>) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let body = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n");
    (pem, pair.public_key().as_ref().to_vec())
}

async fn start() -> (Apple, ApnsChannel) {
    let (pem, public_point) = signing_key();
    let apple = Apple {
        public_point: Arc::new(public_point),
        requests: Arc::default(),
    };
    let base = serve(
        Router::new()
            .route("/3/device/{token}", post(device))
            .with_state(apple.clone()),
    )
    .await;
    let config: ApnsConfig = serde_json::from_value(json!({
        "signing_key_pem": pem,
        "key_id": KEY_ID,
        "team_id": TEAM_ID,
        "topic": TOPIC,
        "base_url": base,
        "http": { "http2_prior_knowledge": true }
    }))
    .unwrap();
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
    let requests = apple.requests.lock().unwrap().clone();
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
    assert!(apple.requests.lock().unwrap().is_empty());
}
