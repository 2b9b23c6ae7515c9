//! JPush v3's `/v3/push`: checks basic auth (app key and master secret) and records
//! each body. Registration ids `unknown` are refused as unknown audiences, `throttled`
//! gets a 429 with `X-Rate-Limit-Reset: 42` and `down` a 502.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};

use super::super::http::serve;

pub const APP_KEY: &str = "app-key-1";
pub const MASTER_SECRET: &str = "master-secret-1";

#[derive(Clone, Default)]
pub struct FakeJpush {
    base: String,
    /// Each accepted request's body.
    pub seen: Arc<Mutex<Vec<Value>>>,
}

impl FakeJpush {
    pub async fn start() -> Self {
        let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
        let base = serve(
            Router::new()
                .route("/v3/push", post(push))
                .with_state(seen.clone()),
        )
        .await;
        FakeJpush { base, seen }
    }

    /// A JPush channel's settings that point it here, with the right credentials.
    pub fn settings(&self) -> Value {
        json!({ "app_key": APP_KEY, "master_secret": MASTER_SECRET, "base_url": self.base,
            "apns_production": false })
    }

    pub fn seen(&self) -> Vec<Value> {
        self.seen.lock().unwrap().clone()
    }
}

fn jpush_error(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

async fn push(
    State(seen): State<Arc<Mutex<Vec<Value>>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{APP_KEY}:{MASTER_SECRET}"))
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
