use herald_channels::email::{EmailChannel, SmtpConfig};
use herald_channels::{Channel, DeliveryOutcome, EmailMessage, Message};

use crate::support::delivery;
use crate::support::http::closed_port;
use crate::support::smtp::SmtpServer;

fn plain_config(port: u16) -> SmtpConfig {
    serde_json::from_value(serde_json::json!({
        "host": "127.0.0.1",
        "port": port,
        "security": "plain",
        "hello_name": "herald.test",
        "timeout_secs": 5,
        "pool": { "max_size": 2 }
    }))
    .unwrap()
}

fn newsletter() -> EmailMessage {
    EmailMessage {
        from: "Herald News <news@example.com>".into(),
        reply_to: Some("support@example.com".into()),
        to: vec!["user@example.org".into()],
        subject: "Your weekly digest".into(),
        text: "Plain text version of the digest.".into(),
        html: Some("<p>HTML version of the digest.</p>".into()),
        list_unsubscribe_url: Some("https://herald.example/unsubscribe/tok-123".into()),
        headers: vec![("X-Herald-Campaign".into(), "c-7".into())],
    }
}

#[tokio::test]
async fn delivers_a_multipart_message_with_envelope_and_unsubscribe_headers() {
    let server = SmtpServer::start().await;
    let channel = EmailChannel::new(&plain_config(server.addr.port())).unwrap();

    let outcome = channel
        .send(&delivery("d-1001", Message::Email(newsletter())))
        .await;

    let DeliveryOutcome::Delivered {
        provider_message_id,
        response,
    } = outcome
    else {
        panic!("expected delivery, got {outcome:?}");
    };
    assert_eq!(provider_message_id.as_deref(), Some("Q1"));
    assert!(response.starts_with("250"), "{response}");
    let mails = server.mails();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.mail_from, "news@example.com");
    assert_eq!(mail.rcpt_to, vec!["user@example.org"]);
    assert_eq!(
        mail.header("From").unwrap(),
        "\"Herald News\" <news@example.com>"
    );
    assert_eq!(mail.header("Reply-To").unwrap(), "support@example.com");
    assert_eq!(mail.header("To").unwrap(), "user@example.org");
    assert_eq!(mail.header("Subject").unwrap(), "Your weekly digest");
    assert_eq!(mail.header("Message-ID").unwrap(), "<d-1001@example.com>");
    assert_eq!(
        mail.header("List-Unsubscribe").unwrap(),
        "<https://herald.example/unsubscribe/tok-123>"
    );
    assert_eq!(
        mail.header("List-Unsubscribe-Post").unwrap(),
        "List-Unsubscribe=One-Click"
    );
    assert_eq!(mail.header("X-Herald-Campaign").unwrap(), "c-7");
    assert!(
        mail.header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative")
    );
    assert!(mail.data.contains("Content-Type: text/plain"));
    assert!(mail.data.contains("Plain text version of the digest."));
    assert!(mail.data.contains("Content-Type: text/html"));
    assert!(mail.data.contains("<p>HTML version of the digest.</p>"));
}

#[tokio::test]
async fn the_message_id_is_the_same_on_every_retry() {
    let server = SmtpServer::start().await;
    let channel = EmailChannel::new(&plain_config(server.addr.port())).unwrap();
    let retried = delivery("d-2002", Message::Email(newsletter()));
    assert!(channel.send(&retried).await.is_delivered());
    assert!(channel.send(&retried).await.is_delivered());
    let ids: Vec<_> = server
        .mails()
        .iter()
        .map(|mail| mail.header("Message-ID").unwrap())
        .collect();
    assert_eq!(ids, vec!["<d-2002@example.com>", "<d-2002@example.com>"]);
}

#[tokio::test]
async fn a_4xx_reply_is_retryable_and_a_5xx_reply_is_permanent() {
    let server = SmtpServer::start().await;
    let channel = EmailChannel::new(&plain_config(server.addr.port())).unwrap();

    server.refuse_recipients_with("451 4.3.0 Mailbox temporarily unavailable");
    let outcome = channel
        .send(&delivery("d-3", Message::Email(newsletter())))
        .await;
    assert!(
        matches!(&outcome, DeliveryOutcome::Retryable { reason, retry_after: None, throttled: false } if reason.contains("451")),
        "{outcome:?}"
    );

    server.refuse_recipients_with("421 4.7.0 Too many messages, slow down");
    let outcome = channel
        .send(&delivery("d-3b", Message::Email(newsletter())))
        .await;
    assert!(outcome.is_throttled(), "421 is push-back: {outcome:?}");

    server.refuse_recipients_with("550 5.1.1 No such user");
    let outcome = channel
        .send(&delivery("d-4", Message::Email(newsletter())))
        .await;
    assert!(
        matches!(&outcome, DeliveryOutcome::Permanent { reason, endpoint_dead: false } if reason.contains("550")),
        "{outcome:?}"
    );
    assert!(server.mails().is_empty());
}

#[tokio::test]
async fn an_unreachable_server_is_retryable() {
    let channel = EmailChannel::new(&plain_config(closed_port().await)).unwrap();
    let outcome = channel
        .send(&delivery("d-5", Message::Email(newsletter())))
        .await;
    assert!(
        matches!(outcome, DeliveryOutcome::Retryable { .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_batch_shares_the_pooled_connections() {
    let server = SmtpServer::start().await;
    let channel = EmailChannel::new(&plain_config(server.addr.port())).unwrap();
    let batch: Vec<_> = (0..20)
        .map(|n| delivery(&format!("batch-{n}"), Message::Email(newsletter())))
        .collect();

    let outcomes = channel.send_batch(&batch).await;

    assert_eq!(outcomes.len(), 20);
    assert!(
        outcomes.iter().all(DeliveryOutcome::is_delivered),
        "{outcomes:?}"
    );
    assert_eq!(server.mails().len(), 20);
    assert!(
        server.connections() <= 2,
        "pool of 2 opened {} connections",
        server.connections()
    );
}

#[tokio::test]
async fn an_invalid_address_or_the_wrong_message_kind_is_permanent() {
    let server = SmtpServer::start().await;
    let channel = EmailChannel::new(&plain_config(server.addr.port())).unwrap();
    let bad = EmailMessage {
        to: vec!["not-an-address".into()],
        ..newsletter()
    };
    let outcome = channel.send(&delivery("d-6", Message::Email(bad))).await;
    assert!(
        matches!(outcome, DeliveryOutcome::Permanent { .. }),
        "{outcome:?}"
    );
    let mqtt = Message::Mqtt(herald_channels::MqttMessage {
        topic: "t".into(),
        payload: vec![],
    });
    let outcome = channel.send(&delivery("d-7", mqtt)).await;
    assert!(
        matches!(outcome, DeliveryOutcome::Permanent { .. }),
        "{outcome:?}"
    );
    assert_eq!(server.connections(), 0, "nothing was sent");
}

mod tls {
    //! STARTTLS and implicit TLS against the in-test server, with a certificate
    //! from a test CA that the channel is told to trust.

    use super::*;
    use crate::support::smtp::Security;
    use crate::support::tls::CA_PEM as CA;

    fn acceptor() -> tokio_rustls::TlsAcceptor {
        crate::support::tls::acceptor(&[])
    }

    fn config(port: u16, security: &str, trust_ca: bool) -> SmtpConfig {
        serde_json::from_value(serde_json::json!({
            "host": "localhost",
            "port": port,
            "security": security,
            "hello_name": "herald.test",
            "timeout_secs": 5,
            "extra_root_certificate_pem": trust_ca.then_some(CA),
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn starttls_upgrades_before_the_envelope() {
        let server = SmtpServer::start_tls(Security::Starttls(acceptor())).await;
        let channel = EmailChannel::new(&config(server.addr.port(), "starttls", true)).unwrap();
        let outcome = channel
            .send(&delivery("tls-1", Message::Email(newsletter())))
            .await;
        assert!(outcome.is_delivered(), "{outcome:?}");
        assert_eq!(server.encrypted_mails(), 1);
    }

    #[tokio::test]
    async fn implicit_tls_encrypts_from_the_first_byte() {
        let server = SmtpServer::start_tls(Security::Implicit(acceptor())).await;
        let channel = EmailChannel::new(&config(server.addr.port(), "tls", true)).unwrap();
        let outcome = channel
            .send(&delivery("tls-2", Message::Email(newsletter())))
            .await;
        assert!(outcome.is_delivered(), "{outcome:?}");
        assert_eq!(server.encrypted_mails(), 1);
    }

    #[tokio::test]
    async fn an_untrusted_certificate_is_refused() {
        let server = SmtpServer::start_tls(Security::Starttls(acceptor())).await;
        let channel = EmailChannel::new(&config(server.addr.port(), "starttls", false)).unwrap();
        let outcome = channel
            .send(&delivery("tls-3", Message::Email(newsletter())))
            .await;
        assert!(
            matches!(outcome, DeliveryOutcome::Retryable { .. }),
            "{outcome:?}"
        );
        assert_eq!(server.mail_count(), 0);
    }
}
