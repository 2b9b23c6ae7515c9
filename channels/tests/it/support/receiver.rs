//! The one webhook receiver of the tests and benchmarks: a real HTTP server on
//! 127.0.0.1 that records every request and answers each as the test decides, or, as
//! a benchmark's sink, answers 204 and only counts. Included by path by the channels
//! tests and benchmarks, the API tests, the process tests and the `webhook_sink`
//! example; each uses part of it.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// The secret the tests sign webhooks with.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One request as it arrived, and how it was answered.
#[derive(Clone, Debug)]
pub struct Hook {
    /// The path it was sent to, without the leading `/`: `ok` for `/ok`.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
    pub status: u16,
    /// How long the answer was held back (past a sender's timeout: a hang).
    pub delayed: Duration,
}

impl Hook {
    /// The Standard Webhooks `webhook-id` header ("" when absent).
    pub fn webhook_id(&self) -> &str {
        self.headers
            .get("webhook-id")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
    }

    /// The body as JSON (null when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// Whether it carries a valid Standard Webhooks signature under [`SECRET`].
    pub fn signature_valid(&self) -> bool {
        verify(SECRET, &self.headers, &self.body)
    }
}

/// How one request is answered.
pub struct Answer {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: String,
    delay: Duration,
}

impl Answer {
    pub fn status(status: u16) -> Self {
        Self {
            status: StatusCode::from_u16(status).expect("an HTTP status"),
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn ok() -> Self {
        Self::status(200)
    }

    /// With a header of exactly this text.
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        let value = HeaderValue::from_str(value).expect("a header value");
        self.headers.push((HeaderName::from_static(name), value));
        self
    }

    /// With a `Retry-After` header of exactly this text.
    pub fn retry_after(self, value: &str) -> Self {
        self.header("retry-after", value)
    }

    pub fn body(mut self, body: &str) -> Self {
        self.body = body.to_owned();
        self
    }

    /// Answered only after `delay`.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// 204 for a valid signature under [`SECRET`], 401 otherwise.
pub fn checking_signatures(hook: &Hook, _: &[Hook]) -> Answer {
    Answer::status(if hook.signature_valid() { 204 } else { 401 })
}

type Decide = dyn Fn(&Hook, &[Hook]) -> Answer + Send + Sync;

#[derive(Clone)]
pub struct Receiver {
    base: String,
    hooks: Arc<Mutex<Vec<Hook>>>,
    received: Arc<AtomicU64>,
}

impl Receiver {
    /// Answers every request with `answer(request, the requests before it)`, decided
    /// and recorded under one lock (so a rate or a repeat is counted exactly).
    pub async fn start(answer: impl Fn(&Hook, &[Hook]) -> Answer + Send + Sync + 'static) -> Self {
        let answer: Arc<Decide> = Arc::new(answer);
        Self::serve(0, move |receiver| {
            let (hooks, received) = (Arc::clone(&receiver.hooks), Arc::clone(&receiver.received));
            Router::new().route(
                "/{*path}",
                post(
                    move |Path(path): Path<String>, headers: HeaderMap, body: Bytes| {
                        let (hooks, received) = (Arc::clone(&hooks), Arc::clone(&received));
                        let answer = Arc::clone(&answer);
                        async move {
                            let request = (path, headers, body);
                            receive(&hooks, &received, answer.as_ref(), request).await
                        }
                    },
                ),
            )
        })
        .await
    }

    /// A benchmark's sink on `port` (0: any): 204 to every POST, counted, not kept;
    /// `GET /count` answers how many arrived.
    pub async fn sink(port: u16) -> Self {
        Self::serve(port, |receiver| {
            let (counted, told) = (
                Arc::clone(&receiver.received),
                Arc::clone(&receiver.received),
            );
            Router::new()
                .route(
                    "/count",
                    get(move || async move { told.load(Ordering::Relaxed).to_string() }),
                )
                .route(
                    "/{*path}",
                    post(move |_: Bytes| async move {
                        counted.fetch_add(1, Ordering::Relaxed);
                        StatusCode::NO_CONTENT
                    }),
                )
        })
        .await
    }

    /// Serves `app(receiver)` on 127.0.0.1:`port` until the runtime ends.
    async fn serve(port: u16, app: impl FnOnce(&Self) -> Router) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("a free port on 127.0.0.1");
        let addr = listener.local_addr().expect("a bound address");
        let receiver = Self {
            base: format!("http://{addr}"),
            hooks: Arc::default(),
            received: Arc::default(),
        };
        let app = app(&receiver);
        tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the receiver serves")
        });
        receiver
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    /// How many requests arrived so far (without copying them).
    pub fn count(&self) -> usize {
        usize::try_from(self.received.load(Ordering::Relaxed)).unwrap_or(usize::MAX)
    }

    /// Every request so far, in arrival order (none for a sink).
    pub fn hooks(&self) -> Vec<Hook> {
        self.hooks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The webhook-ids of the requests sent to `path`, in arrival order.
    pub fn ids(&self, path: &str) -> Vec<String> {
        self.hooks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|hook| hook.path == path)
            .map(|hook| hook.webhook_id().to_owned())
            .collect()
    }
}

async fn receive(
    hooks: &Mutex<Vec<Hook>>,
    received: &AtomicU64,
    answer: &Decide,
    (path, headers, body): (String, HeaderMap, Bytes),
) -> Response {
    let decided = {
        let mut hooks = hooks.lock().unwrap_or_else(PoisonError::into_inner);
        let mut hook = Hook {
            path,
            headers,
            body,
            at: Instant::now(),
            status: 0,
            delayed: Duration::ZERO,
        };
        let decided = answer(&hook, &hooks);
        hook.status = decided.status.as_u16();
        hook.delayed = decided.delay;
        hooks.push(hook);
        received.fetch_add(1, Ordering::Relaxed);
        decided
    };
    if !decided.delay.is_zero() {
        tokio::time::sleep(decided.delay).await;
    }
    let mut response = (decided.status, decided.body).into_response();
    response.headers_mut().extend(decided.headers);
    response
}

/// The receiver's side of Standard Webhooks, written apart from the plugin (ring's
/// HMAC, not the hmac crate): the signature over `id.timestamp.body` must match one
/// `v1,` entry of the header, and the timestamp be within five minutes.
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
        .map_or(0, |since| since.as_secs());
    if now.abs_diff(sent_at) > 300 || id.is_empty() {
        return false;
    }
    let Ok(key) = BASE64.decode(secret.trim_start_matches("whsec_")) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    let expected = format!(
        "v1,{}",
        BASE64.encode(ring::hmac::sign(&key, &signed).as_ref())
    );
    signatures.split(' ').any(|candidate| candidate == expected)
}
