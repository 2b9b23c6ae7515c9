use std::time::{Duration, SystemTime};

use axum::http::header;
use herald_channels::{Channel, DeliveryOutcome};

use crate::support::http::closed_port;
use crate::support::receiver::{Answer, Receiver, checking_signatures};
use crate::support::{webhook, webhook_channel};

fn loopback() -> Vec<String> {
    vec!["127.0.0.0/8".to_owned()]
}

#[tokio::test]
async fn delivers_a_signed_request_that_an_independent_verifier_accepts() {
    let receiver = Receiver::start(checking_signatures).await;
    let channel = webhook_channel(&loopback(), 5_000);

    let outcome = channel
        .send(&webhook("msg_2Kv9", receiver.url("hooks")))
        .await;

    assert!(outcome.is_delivered(), "{outcome:?}");
    let received = receiver.hooks();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert!(request.signature_valid());
    assert_eq!(request.headers["webhook-id"], "msg_2Kv9");
    assert_eq!(request.headers[header::CONTENT_TYPE], "application/json");
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["data"]["text"], "hello");
}

#[tokio::test]
async fn the_webhook_id_is_stable_across_retries() {
    // The first attempt fails, the second succeeds.
    let receiver =
        Receiver::start(|_, before| Answer::status(if before.is_empty() { 503 } else { 200 }))
            .await;
    let channel = webhook_channel(&loopback(), 5_000);
    let attempt = webhook("msg_retry_1", receiver.url("flaky"));

    assert!(matches!(
        channel.send(&attempt).await,
        DeliveryOutcome::Retryable { .. }
    ));
    assert!(channel.send(&attempt).await.is_delivered());
    assert_eq!(receiver.ids("flaky"), ["msg_retry_1", "msg_retry_1"]);
}

/// Answers by path: `/hooks` as [`checking_signatures`], the others as named.
async fn answering_by_path() -> Receiver {
    let in_two_minutes = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
    Receiver::start(move |hook, before| match hook.path.as_str() {
        "429-seconds" => Answer::status(429).retry_after("7"),
        "429-date" => Answer::status(429).retry_after(&in_two_minutes),
        "500" => Answer::status(500),
        "400" => Answer::status(400).body("bad payload"),
        "410" => Answer::status(410),
        "302" => Answer::status(302).header("location", "http://169.254.169.254/"),
        "hang" => Answer::ok().after(Duration::from_secs(3600)),
        _ => checking_signatures(hook, before),
    })
    .await
}

#[tokio::test]
async fn answers_are_classified_and_retry_after_is_honoured() {
    let receiver = answering_by_path().await;
    let channel = webhook_channel(&loopback(), 5_000);
    let send = |path: &str| {
        let attempt = webhook("msg_status", format!("{}{path}", receiver.base()));
        let channel = &channel;
        async move { channel.send(&attempt).await }
    };

    let outcome = send("/429-seconds").await;
    assert!(
        matches!(outcome, DeliveryOutcome::Retryable { retry_after: Some(after), throttled: true, .. } if after == Duration::from_secs(7)),
        "{outcome:?}"
    );
    let outcome = send("/429-date").await;
    assert!(
        matches!(outcome, DeliveryOutcome::Retryable { retry_after: Some(after), .. }
            if after > Duration::from_secs(60) && after <= Duration::from_secs(120)),
        "{outcome:?}"
    );
    let outcome = send("/500").await;
    assert!(
        matches!(
            outcome,
            DeliveryOutcome::Retryable {
                retry_after: None,
                throttled: false,
                ..
            }
        ),
        "a fault, not push-back: {outcome:?}"
    );
    let outcome = send("/400").await;
    assert!(
        matches!(&outcome, DeliveryOutcome::Permanent { reason, endpoint_dead: false } if reason.contains("bad payload")),
        "{outcome:?}"
    );
    let outcome = send("/410").await;
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
    // The redirect points at the metadata service: it must not be followed.
    let outcome = send("/302").await;
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
async fn a_receiver_that_hangs_past_the_timeout_is_retryable() {
    let receiver = answering_by_path().await;
    let channel = webhook_channel(&loopback(), 300);
    let outcome = channel
        .send(&webhook("msg_hang", receiver.url("hang")))
        .await;
    assert!(
        matches!(&outcome, DeliveryOutcome::Retryable { reason, .. } if reason.contains("timed out")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_retryable() {
    let channel = webhook_channel(&loopback(), 5_000);
    let url = format!("http://127.0.0.1:{}/hooks", closed_port().await);
    let outcome = channel.send(&webhook("msg_refused", url)).await;
    assert!(
        matches!(&outcome, DeliveryOutcome::Retryable { reason, .. } if reason.contains("connection failed")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_batch_returns_one_outcome_per_message_in_order() {
    let receiver = answering_by_path().await;
    let channel = webhook_channel(&loopback(), 5_000);
    let batch = vec![
        webhook("b-1", receiver.url("hooks")),
        webhook("b-2", receiver.url("400")),
        webhook("b-3", receiver.url("hooks")),
    ];
    let outcomes = channel.send_batch(&batch).await;
    assert!(
        outcomes[0].is_delivered() && outcomes[2].is_delivered(),
        "{outcomes:?}"
    );
    assert!(matches!(outcomes[1], DeliveryOutcome::Permanent { .. }));
    let signed = receiver
        .hooks()
        .iter()
        .filter(|h| h.path == "hooks")
        .count();
    assert_eq!(signed, 2);
}

/// A receiver that answers `status` with a chunked body that never ends (up to 4 GiB),
/// and reports how many bytes it managed to write before the client hung up.
async fn endless_body(status: u16) -> (String, tokio::sync::oneshot::Receiver<u64>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (report, written) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = vec![0u8; 64 * 1024];
        let _ = socket.read(&mut request).await;
        let head = format!(
            "HTTP/1.1 {status} Whatever\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        let mut sent = 0u64;
        if socket.write_all(head.as_bytes()).await.is_ok() {
            let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
            while sent < 4 << 30 {
                if socket.write_all(chunk.as_bytes()).await.is_err() {
                    break;
                }
                sent += 0x10000;
            }
        }
        let _ = report.send(sent);
    });
    (format!("http://{addr}"), written)
}

#[tokio::test]
async fn a_receiver_streaming_an_endless_body_is_read_only_up_to_the_cap() {
    for status in [500, 200] {
        let (base, written) = endless_body(status).await;
        let channel = webhook_channel(&loopback(), 30_000);
        let outcome = channel
            .send(&webhook("msg_endless", format!("{base}/hook")))
            .await;
        match (status, &outcome) {
            (500, DeliveryOutcome::Retryable { reason, .. }) => {
                assert!(
                    reason.len() < 1_024,
                    "a short excerpt is logged: {}",
                    reason.len()
                );
                assert!(reason.starts_with("webhook answered 500"), "{reason}");
            }
            (200, DeliveryOutcome::Delivered { .. }) => {}
            _ => panic!("{status}: {outcome:?}"),
        }
        // The client stopped reading at the cap and closed the connection: the
        // receiver could write little more than what the sockets buffer.
        let written = written.await.unwrap();
        assert!(
            written < 64 << 20,
            "{status}: the receiver wrote {written} bytes"
        );
    }
}
