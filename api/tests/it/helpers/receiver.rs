//! The tests' webhook receiver, written once: a real HTTP server on a free port that
//! records every request it gets and answers each as the test decides.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// One request as it arrived, and how it was answered.
#[derive(Clone, Debug)]
pub struct Hook {
    /// The one path segment it was sent to: `ok` for `/ok`.
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
}

/// How one request is answered.
pub struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    delay: Duration,
}

impl Answer {
    pub fn status(status: u16) -> Self {
        Self {
            status: StatusCode::from_u16(status).expect("an HTTP status"),
            retry_after: None,
            delay: Duration::ZERO,
        }
    }

    pub fn ok() -> Self {
        Self::status(200)
    }

    /// With a `Retry-After` header of exactly this text.
    pub fn retry_after(mut self, value: &str) -> Self {
        self.retry_after = Some(value.to_owned());
        self
    }

    /// Answered only after `delay`.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Decide = dyn Fn(&Hook, &[Hook]) -> Answer + Send + Sync;

#[derive(Clone)]
pub struct Receiver {
    base: String,
    hooks: Arc<Mutex<Vec<Hook>>>,
}

impl Receiver {
    /// Answers every request with `answer(request, the requests before it)`, decided
    /// and recorded under one lock (so a rate or a repeat is counted exactly).
    pub async fn start(answer: impl Fn(&Hook, &[Hook]) -> Answer + Send + Sync + 'static) -> Self {
        let hooks: Arc<Mutex<Vec<Hook>>> = Arc::default();
        let answer: Arc<Decide> = Arc::new(answer);
        let recorded = Arc::clone(&hooks);
        let app = Router::new().route(
            "/{path}",
            post(
                move |Path(path): Path<String>, headers: HeaderMap, body: Bytes| {
                    let (hooks, answer) = (Arc::clone(&recorded), Arc::clone(&answer));
                    async move { receive(&hooks, answer.as_ref(), path, headers, body).await }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            base: format!("http://{addr}"),
            hooks,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `path` (one segment) on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    /// How many requests arrived so far (without copying them).
    pub fn count(&self) -> usize {
        self.hooks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Every request so far, in arrival order.
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
    answer: &Decide,
    path: String,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (status, retry_after, delay) = {
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
        (decided.status, decided.retry_after, decided.delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match retry_after {
        Some(value) => (status, [("retry-after", value)]).into_response(),
        None => status.into_response(),
    }
}
