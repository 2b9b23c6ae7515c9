//! FCM HTTP v1 against a local server playing both Google's token endpoint and
//! the `messages:send` endpoint.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Router};
use herald_channels::fcm::{FcmChannel, FcmConfig};
use herald_channels::{Channel, DeliveryOutcome, Message, PushMessage};
use serde_json::{Value, json};

use crate::support::delivery;
use crate::support::http::{bind, serve_on};
use crate::support::jwt::verify_rs256;

const PRIVATE_KEY: &str = include_str!("fixtures/fcm-service-account-key.pem");
const PUBLIC_KEY: &[u8] = include_bytes!("fixtures/fcm-service-account-public.der");
const CLIENT_EMAIL: &str = "herald@herald-test.iam.gserviceaccount.com";

#[derive(Clone, Default)]
struct Google {
    token_uri: String,
    issued: Arc<AtomicUsize>,
    /// Answer 401 to the first access token once, as if it had been revoked.
    revoke_first_token: Arc<AtomicBool>,
    refuse_grants: Arc<AtomicBool>,
    sends: Arc<Mutex<Vec<(String, Value)>>>,
}

#[derive(serde::Deserialize)]
struct TokenRequest {
    grant_type: String,
    assertion: String,
}

async fn token(State(google): State<Google>, Form(request): Form<TokenRequest>) -> Response {
    assert_eq!(
        request.grant_type,
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let (header, claims) = verify_rs256(&request.assertion, PUBLIC_KEY);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], "kid-1");
    assert_eq!(claims["iss"], CLIENT_EMAIL);
    assert_eq!(claims["aud"], google.token_uri.as_str());
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/firebase.messaging"
    );
    assert!(claims["exp"].as_u64().unwrap() > claims["iat"].as_u64().unwrap());
    if google.refuse_grants.load(Ordering::SeqCst) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    }
    let n = google.issued.fetch_add(1, Ordering::SeqCst) + 1;
    Json(json!({ "access_token": format!("ya29.token-{n}"), "expires_in": 3599, "token_type": "Bearer" }))
        .into_response()
}

fn fcm_error(status: StatusCode, rpc_status: &str, error_code: &str) -> Response {
    let body = json!({ "error": {
        "code": status.as_u16(), "message": format!("{error_code} from test"), "status": rpc_status,
        "details": [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code }]
    }});
    (status, Json(body)).into_response()
}

async fn send(
    State(google): State<Google>,
    Path(project): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    assert_eq!(project, "herald-test");
    let bearer = headers[header::AUTHORIZATION].to_str().unwrap().to_owned();
    google
        .sends
        .lock()
        .unwrap()
        .push((bearer.clone(), body.clone()));
    if bearer == "Bearer ya29.token-1" && google.revoke_first_token.swap(false, Ordering::SeqCst) {
        return fcm_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "THIRD_PARTY_AUTH_ERROR",
        );
    }
    match body["message"]["token"].as_str().unwrap() {
        "uninstalled" => fcm_error(StatusCode::NOT_FOUND, "NOT_FOUND", "UNREGISTERED"),
        "unregistered-400" => {
            fcm_error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", "UNREGISTERED")
        }
        "malformed" => fcm_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "INVALID_ARGUMENT",
        ),
        "throttled" => {
            let mut response = fcm_error(
                StatusCode::TOO_MANY_REQUESTS,
                "RESOURCE_EXHAUSTED",
                "QUOTA_EXCEEDED",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, "30".parse().unwrap());
            response
        }
        "unavailable" => fcm_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            "UNAVAILABLE",
        ),
        _ => Json(
            json!({ "name": "projects/herald-test/messages/0:1500415314455276%31bd1c9631bd1c96" }),
        )
        .into_response(),
    }
}

async fn start() -> (Google, FcmChannel) {
    let (listener, base) = bind().await;
    let google = Google {
        token_uri: format!("{base}/token"),
        ..Google::default()
    };
    let router = Router::new()
        .route("/token", post(token))
        .route("/v1/projects/{project}/messages:send", post(send))
        .with_state(google.clone());
    serve_on(listener, router);
    let key_file = json!({
        "type": "service_account",
        "project_id": "herald-test",
        "private_key_id": "kid-1",
        "private_key": PRIVATE_KEY,
        "client_email": CLIENT_EMAIL,
        "token_uri": google.token_uri,
    });
    let config: FcmConfig = serde_json::from_value(json!({
        "service_account_json": key_file.to_string(),
        "base_url": base,
    }))
    .unwrap();
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
    let sends = google.sends.lock().unwrap().clone();
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
