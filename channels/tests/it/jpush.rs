//! JPush v3 against a local server that checks basic auth and the request format.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use herald_channels::jpush::{JpushChannel, JpushConfig};
use herald_channels::{Channel, DeliveryOutcome, Message, PushMessage};
use serde_json::{Value, json};

use crate::support::delivery;
use crate::support::http::serve;

type Seen = Arc<Mutex<Vec<Value>>>;

fn jpush_error(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

async fn push_endpoint(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("app-key-1:master-secret-1")
    );
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(expected.as_str())
    {
        return jpush_error(StatusCode::UNAUTHORIZED, 1004, "Authen failed");
    }
    seen.lock().unwrap().push(body.clone());
    match body["audience"]["registration_id"][0].as_str().unwrap() {
        "unknown" => jpush_error(
            StatusCode::BAD_REQUEST,
            1011,
            "cannot find user by this audience",
        ),
        "throttled" => {
            let mut response =
                jpush_error(StatusCode::TOO_MANY_REQUESTS, 2002, "Rate limit exceeded");
            response
                .headers_mut()
                .insert("x-rate-limit-reset", "42".parse().unwrap());
            response
        }
        "down" => jpush_error(StatusCode::BAD_GATEWAY, 1000, "Server error"),
        _ => Json(json!({ "sendno": "0", "msg_id": 54043195528503331u64 })).into_response(),
    }
}

async fn start(master_secret: &str) -> (Seen, JpushChannel) {
    let seen = Seen::default();
    let base = serve(
        Router::new()
            .route("/v3/push", post(push_endpoint))
            .with_state(seen.clone()),
    )
    .await;
    let config: JpushConfig = serde_json::from_value(json!({
        "app_key": "app-key-1",
        "master_secret": master_secret,
        "base_url": base,
        "apns_production": false
    }))
    .unwrap();
    (seen, JpushChannel::new(&config).unwrap())
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
    let body = seen.lock().unwrap()[0].clone();
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
    assert!(seen.lock().unwrap().is_empty());
}
