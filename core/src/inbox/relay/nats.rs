//! The relay over a NATS server (`bus.nats_url`): notices are published to and
//! received from one subject, which each Herald deployment sharing the server must
//! have to itself (`bus.nats_subject`).

use bytes::Bytes;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::{forward, receive};
use crate::error::{Error, Result};
use crate::inbox::Bus;

/// Notices far below NATS's usual 1 MiB limit keep one relay from hogging the server.
const MAX_PAYLOAD: usize = 256 * 1024;

/// Starts relaying `bus` through the NATS server at `url` on `subject` until `stop` is
/// cancelled. Fails when the server cannot be reached now; later outages are ridden
/// out (the client reconnects, and every connection here then looks again).
pub async fn start(url: &str, subject: &str, bus: &Bus, stop: CancellationToken) -> Result<()> {
    let woken = bus.clone();
    let client = async_nats::ConnectOptions::new()
        .name("herald")
        .event_callback(move |event| {
            let bus = woken.clone();
            async move {
                match event {
                    // Back after an outage, or notices dropped for a slow reader: what
                    // was missed is in the database.
                    async_nats::Event::Connected | async_nats::Event::SlowConsumer(_) => {
                        bus.wake_all();
                    }
                    async_nats::Event::Disconnected => {
                        tracing::warn!("inbox relay lost NATS; reconnecting");
                    }
                    _ => {}
                }
            }
        })
        .connect(url)
        .await
        .map_err(|e| Error::Bus(format!("cannot connect to NATS at {}: {e}", redacted(url))))?;
    let mut notices = client
        .subscribe(subject.to_owned())
        .await
        .map_err(|e| Error::Bus(format!("cannot subscribe to {subject}: {e}")))?;
    let node = uuid::Uuid::new_v4().to_string();
    let limit = client.server_info().max_payload.clamp(8_000, MAX_PAYLOAD);
    let subject = subject.to_owned();
    let sender = client.clone();
    forward(bus, node.clone(), limit, stop.clone(), move |payloads| {
        let (client, subject) = (sender.clone(), subject.clone());
        async move {
            for payload in payloads {
                if let Err(error) = client.publish(subject.clone(), Bytes::from(payload)).await {
                    tracing::warn!(%error, "could not relay inbox signals");
                }
            }
        }
    });
    let bus = bus.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                notice = notices.next() => match notice {
                    Some(notice) => receive(&bus, &node, &notice.payload),
                    None => break,
                },
            }
        }
        // Keeps the client (and its connection) alive while the relay runs.
        drop(client);
    });
    Ok(())
}

/// `url` without its password, for messages and logs.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "(an unreadable URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn a_password_in_the_url_is_never_shown() {
        let shown = redacted("tls://herald:s3cret@nats.internal:4222");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("herald:***@nats.internal:4222"), "{shown}");
        assert_eq!(redacted("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
    }
}
