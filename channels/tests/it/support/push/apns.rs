//! APNs's `/3/device/{token}` over HTTP/2 and TLS (a certificate from the test CA):
//! checks the ES256 provider token, the topic and push type, and records each
//! request. Device tokens `0410` are unregistered, `0400` bad, `0429` throttled and
//! `0503` unavailable.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

use super::super::http::serve_tls;
use super::super::jwt::verify_es256;
use super::super::tls::CA_PEM;

pub const TEAM_ID: &str = "TEAM123456";
pub const KEY_ID: &str = "KEY987654A";
pub const TOPIC: &str = "com.example.herald";

#[derive(Clone)]
pub struct FakeApns {
    base: String,
    signing_key_pem: String,
    public_point: Arc<Vec<u8>>,
    /// Each request's headers and payload.
    pub requests: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

impl FakeApns {
    pub async fn start() -> Self {
        let (signing_key_pem, public_point) = signing_key();
        let mut apple = FakeApns {
            base: String::new(),
            signing_key_pem,
            public_point: Arc::new(public_point),
            requests: Arc::default(),
        };
        apple.base = serve_tls(
            Router::new()
                .route("/3/device/{token}", post(device))
                .with_state(apple.clone()),
        )
        .await;
        apple
    }

    /// An APNs channel's settings that point it here: a fresh signing key, and the
    /// test CA trusted.
    pub fn settings(&self) -> Value {
        json!({
            "signing_key_pem": self.signing_key_pem,
            "key_id": KEY_ID,
            "team_id": TEAM_ID,
            "topic": TOPIC,
            "base_url": self.base,
            "http": { "extra_root_certificate_pem": CA_PEM }
        })
    }

    pub fn requests(&self) -> Vec<(HeaderMap, Value)> {
        self.requests.lock().unwrap().clone()
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

fn apns_error(status: StatusCode, reason: &str) -> Response {
    (
        status,
        Json(json!({ "reason": reason, "timestamp": 1_700_000_000_000u64 })),
    )
        .into_response()
}

async fn device(
    State(apple): State<FakeApns>,
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
