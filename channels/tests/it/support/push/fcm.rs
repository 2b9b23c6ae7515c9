//! FCM HTTP v1: Google's OAuth token endpoint (a signed JWT assertion for an access
//! token) and `messages:send` (that token as bearer). Device tokens `uninstalled` and
//! `unregistered-400` are unregistered, `malformed` is refused, `throttled` gets a 429
//! with `Retry-After: 30` and `unavailable` a 503.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use serde_json::{Value, json};

use super::super::http::{bind, serve_on};
use super::super::jwt::verify_rs256;

const PRIVATE_KEY: &str = include_str!("../../fixtures/fcm-service-account-key.pem");
const PUBLIC_KEY: &[u8] = include_bytes!("../../fixtures/fcm-service-account-public.der");
const CLIENT_EMAIL: &str = "herald@herald-test.iam.gserviceaccount.com";
pub const PROJECT: &str = "herald-test";

#[derive(Clone, Default)]
pub struct FakeFcm {
    base: String,
    /// Access tokens issued so far.
    pub issued: Arc<AtomicUsize>,
    /// Answer 401 to the first access token once, as if it had been revoked.
    pub revoke_first_token: Arc<AtomicBool>,
    pub refuse_grants: Arc<AtomicBool>,
    /// Each send's bearer and body.
    pub sends: Arc<Mutex<Vec<(String, Value)>>>,
}

impl FakeFcm {
    pub async fn start() -> Self {
        let (listener, base) = bind().await;
        let google = FakeFcm {
            base,
            ..FakeFcm::default()
        };
        let router = Router::new()
            .route("/token", post(token))
            .route("/v1/projects/{project}/messages:send", post(send))
            .with_state(google.clone());
        serve_on(listener, router);
        google
    }

    /// An FCM channel's settings that point it here, with a service-account key file
    /// whose token URI is this server's.
    pub fn settings(&self) -> Value {
        let key_file = json!({
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": "kid-1",
            "private_key": PRIVATE_KEY,
            "client_email": CLIENT_EMAIL,
            "token_uri": self.token_uri(),
        });
        json!({ "service_account_json": key_file.to_string(), "base_url": self.base })
    }

    pub fn sends(&self) -> Vec<(String, Value)> {
        self.sends.lock().unwrap().clone()
    }

    fn token_uri(&self) -> String {
        format!("{}/token", self.base)
    }
}

#[derive(serde::Deserialize)]
struct TokenRequest {
    grant_type: String,
    assertion: String,
}

async fn token(State(google): State<FakeFcm>, Form(request): Form<TokenRequest>) -> Response {
    assert_eq!(
        request.grant_type,
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let (header, claims) = verify_rs256(&request.assertion, PUBLIC_KEY);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], "kid-1");
    assert_eq!(claims["iss"], CLIENT_EMAIL);
    assert_eq!(claims["aud"], google.token_uri().as_str());
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
    State(google): State<FakeFcm>,
    Path(project): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    assert_eq!(project, PROJECT);
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
        _ => Json(json!({ "name": format!("projects/{PROJECT}/messages/0:1500415314455276%31bd1c9631bd1c96") }))
            .into_response(),
    }
}
