//! An HTTP receiver for generic webhooks that checks the Standard Webhooks
//! signature itself, with ring's HMAC rather than the plugin's hmac crate.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What the receiver saw, one entry per request.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub signature_valid: bool,
}

#[derive(Clone, Default)]
pub struct Receiver {
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// `POST /hooks`: 204 for a valid signature, 401 otherwise.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/hooks", post(receive))
            .with_state(self.clone())
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature_valid = verify(SECRET, &headers, &body);
    receiver.received.lock().unwrap().push(Received {
        headers,
        body,
        signature_valid,
    });
    if signature_valid {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::UNAUTHORIZED
    }
}

/// The receiver side of Standard Webhooks: recompute the signature over
/// `id.timestamp.body`, compare with each `v1,` entry of the header, and refuse
/// timestamps more than five minutes away.
pub fn verify(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, timestamp, signatures) = (
        text("webhook-id"),
        text("webhook-timestamp"),
        text("webhook-signature"),
    );
    let Ok(sent_at) = timestamp.parse::<u64>() else {
        return false;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now.abs_diff(sent_at) > 300 || id.is_empty() {
        return false;
    }
    let key = BASE64.decode(secret.trim_start_matches("whsec_")).unwrap();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    let expected = format!(
        "v1,{}",
        BASE64.encode(ring::hmac::sign(&key, &signed).as_ref())
    );
    signatures.split(' ').any(|candidate| candidate == expected)
}
