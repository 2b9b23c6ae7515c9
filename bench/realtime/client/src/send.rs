//! Sending: Herald's `POST /v1/messages` (inbox channel, inline content whose data carries
//! the send time), or a peer's `POST /send` and `POST /broadcast` with a payload of the
//! same shape as a Herald inbox item.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::bail;

use crate::stats::now_us;

/// Herald's inline content: the data fields are rendered from the request's data.
const HERALD_CONTENT: &str = r#""channels":["inbox"],"category":"bench","content":{"inbox":{"title":"Bench","body":"A realtime benchmark message","data":{"ph":"{{ data.ph }}","sent_at":"{{ data.sent_at }}","seq":"{{ data.seq }}"}}}"#;

pub enum Target {
    Herald {
        base: String,
        api_key: String,
        /// For a broadcast: the connected users' ids as JSON arrays of at most
        /// `MAX_RECIPIENTS` each, serialised once.
        chunks: Vec<String>,
    },
    Peer {
        base: String,
    },
}

pub struct Sender {
    client: reqwest::Client,
    target: Target,
    pub errors: AtomicU64,
    pub first_error: Mutex<Option<String>>,
}

impl Sender {
    pub fn new(target: Target) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(1024)
            // Below Node's 5 s keep-alive timeout: a connection the peer is closing
            // is never reused (that race showed as "connection reset by peer").
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .http1_only()
            .build()?;
        Ok(Self {
            client,
            target,
            errors: AtomicU64::new(0),
            first_error: Mutex::new(None),
        })
    }

    /// One message to one user; errors are counted, not returned.
    pub async fn send_one(&self, user: &str, ph: u8, seq: u64) {
        let result = match &self.target {
            Target::Herald { base, api_key, .. } => {
                let sent_at = now_us();
                let body = format!(
                    r#"{{"recipients":["{user}"],{HERALD_CONTENT},"data":{{"ph":"{ph}","sent_at":"{sent_at}","seq":"{seq}"}}}}"#
                );
                self.post(&format!("{base}/v1/messages"), Some(api_key), body)
                    .await
            }
            Target::Peer { base } => {
                let sent_at = now_us();
                let body = format!(
                    r#"{{"user":"{user}","payload":{}}}"#,
                    payload(ph, seq, sent_at)
                );
                self.post(&format!("{base}/send"), None, body).await
            }
        };
        self.count(result);
    }

    /// One message to every connected user, stamped once before the first request.
    /// Herald takes at most 1,000 recipients per request: its broadcast is
    /// `chunks.len()` requests sent at once.
    pub async fn broadcast(&self, ph: u8, seq: u64) {
        let sent_at = now_us();
        match &self.target {
            Target::Herald {
                base,
                api_key,
                chunks,
            } => {
                let url = format!("{base}/v1/messages");
                let requests = chunks.iter().map(|recipients| {
                    let body = format!(
                        r#"{{"recipients":{recipients},{HERALD_CONTENT},"data":{{"ph":"{ph}","sent_at":"{sent_at}","seq":"{seq}"}}}}"#
                    );
                    self.post(&url, Some(api_key), body)
                });
                for result in futures::future::join_all(requests).await {
                    self.count(result);
                }
            }
            Target::Peer { base } => {
                let body = format!(r#"{{"payload":{}}}"#, payload(ph, seq, sent_at));
                let result = self.post(&format!("{base}/broadcast"), None, body).await;
                self.count(result);
            }
        }
    }

    async fn post(&self, url: &str, api_key: Option<&str>, body: String) -> anyhow::Result<()> {
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            bail!("{url} answered {status}: {text}");
        }
        // Read the (small) answer so the connection goes back to the pool.
        let _ = response.bytes().await?;
        Ok(())
    }

    fn count(&self, result: anyhow::Result<()>) {
        if let Err(error) = result {
            self.errors.fetch_add(1, Ordering::Relaxed);
            let mut first = self
                .first_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if first.is_none() {
                *first = Some(format!("{error:#}"));
            }
        }
    }
}

/// A peer's payload: the shape of a Herald inbox item, so both sides carry the same
/// bytes.
fn payload(ph: u8, seq: u64, sent_at: u64) -> String {
    format!(
        r#"{{"id":{seq},"category":"bench","title":"Bench","body":"A realtime benchmark message","data":{{"ph":"{ph}","sent_at":"{sent_at}","seq":"{seq}"}},"created_at":"2026-01-01T00:00:00.000000Z","read_at":null,"archived_at":null}}"#
    )
}
