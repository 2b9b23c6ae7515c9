//! Email to the in-process SMTP sink (the integration tests' server, which counts
//! and drops messages): bare lettre connections against the plugin, pooled and
//! through a single connection; once with a sink that accepts at once, once with
//! one that takes 2 ms per message, as a relay writing its queue file does.

use std::sync::Arc;
use std::time::Duration;

use herald_channels::email::{EmailChannel, SmtpConfig};
use herald_channels::{Channel, Delivery, EmailMessage, IdempotencyKey, Message};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::harness::{Limits, ROUNDS, drive, median, report};
use crate::smtp::SmtpServer;

const LIMITS: Limits = Limits {
    messages: 10_000,
    max_time: Duration::from_secs(3),
    concurrency: 8,
};

fn message() -> EmailMessage {
    EmailMessage {
        from: "Herald News <news@example.com>".into(),
        to: vec!["user@example.org".into()],
        subject: "Your weekly digest".into(),
        text: "Plain text version of the digest.".into(),
        html: Some("<p>HTML version of the digest.</p>".into()),
        list_unsubscribe_url: Some("https://herald.example/unsubscribe/tok-123".into()),
        ..EmailMessage::default()
    }
}

/// One persistent connection per sender. `nodelay` as the plugin sets it; without
/// it, lettre's own `connect_tokio1`, for reference.
async fn bare_connections(server: &SmtpServer, nodelay: bool, limits: Limits) -> f64 {
    let hello = ClientId::Domain("bench.test".into());
    let mut connections = Vec::new();
    for _ in 0..limits.concurrency {
        let connection = if nodelay {
            let tcp = TcpStream::connect(server.addr).await.unwrap();
            tcp.set_nodelay(true).unwrap();
            AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello)
                .await
                .unwrap()
        } else {
            let timeout = Some(Duration::from_secs(5));
            AsyncSmtpConnection::connect_tokio1(server.addr, timeout, &hello, None, None)
                .await
                .unwrap()
        };
        connections.push(Arc::new(Mutex::new(connection)));
    }
    let measured = drive(limits, move |n| {
        let connection = Arc::clone(&connections[n % connections.len()]);
        async move {
            let from: Mailbox = "Herald News <news@example.com>".parse().unwrap();
            let email = lettre::Message::builder()
                .from(from)
                .to("user@example.org".parse().unwrap())
                .subject("Your weekly digest")
                .multipart(MultiPart::alternative_plain_html(
                    "Plain text version of the digest.".to_owned(),
                    "<p>HTML version of the digest.</p>".to_owned(),
                ))
                .unwrap();
            let mut connection = connection.lock().await;
            connection
                .send(email.envelope(), &email.formatted())
                .await
                .is_ok()
        }
    })
    .await;
    assert_eq!(measured.failed, 0, "the bare loop failed some messages");
    measured.per_second()
}

async fn plugin(server: &SmtpServer, pool_size: u32) -> f64 {
    let config: SmtpConfig = serde_json::from_value(serde_json::json!({
        "host": "127.0.0.1",
        "port": server.addr.port(),
        "security": "plain",
        "hello_name": "bench.test",
        "pool": { "max_size": pool_size }
    }))
    .unwrap();
    let channel = Arc::new(EmailChannel::new(&config).unwrap());
    let measured = drive(LIMITS, move |n| {
        let channel = Arc::clone(&channel);
        let delivery = Delivery {
            idempotency_key: IdempotencyKey::parse(format!("mail-{n}")).unwrap(),
            message: Message::Email(message()),
        };
        async move { channel.send(&delivery).await.is_delivered() }
    })
    .await;
    assert_eq!(measured.failed, 0, "the plugin failed some messages");
    measured.per_second()
}

async fn against(queue_delay: Duration) {
    let server = SmtpServer::start_sink(queue_delay).await;
    let pool = LIMITS.concurrency as u32;
    println!("  sink accepting each message after {queue_delay:?}:");
    bare_connections(&server, true, LIMITS).await;
    let (mut raw, mut pooled, mut single) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        raw.push(bare_connections(&server, true, LIMITS).await);
        pooled.push(plugin(&server, pool).await);
        single.push(plugin(&server, 1).await);
    }
    let (raw, pooled, single) = (median(raw), median(pooled), median(single));
    report(
        &format!("bare lettre, {pool} connections (baseline)"),
        raw,
        None,
    );
    report(
        &format!("email plugin, pool of {pool}"),
        pooled,
        Some(("baseline", raw)),
    );
    report(
        "email plugin, one connection",
        single,
        Some(("baseline", raw)),
    );
    println!("    pooled / one connection: {:.1}x", pooled / single);
}

pub async fn run() {
    println!(
        "email -> in-process tokio SMTP sink on 127.0.0.1, up to {} messages or {:?} per round, {} senders, median of {ROUNDS}",
        LIMITS.messages, LIMITS.max_time, LIMITS.concurrency
    );
    against(Duration::ZERO).await;
    against(Duration::from_millis(2)).await;

    let server = SmtpServer::start_sink(Duration::ZERO).await;
    let short = Limits {
        max_time: Duration::from_secs(2),
        ..LIMITS
    };
    let nagle = bare_connections(&server, false, short).await;
    println!("  for reference, lettre's own connect (no TCP_NODELAY), same sink:");
    report(
        &format!("bare lettre, {} connections", LIMITS.concurrency),
        nagle,
        None,
    );
}
