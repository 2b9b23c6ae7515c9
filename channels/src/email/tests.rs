use super::*;
use crate::{EmailMessage, IdempotencyKey};

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::parse(text).unwrap()
}

#[test]
fn message_ids_come_from_the_idempotency_key() {
    assert_eq!(
        message_id_for(&key("d-42.1"), "example.com"),
        "<d-42.1@example.com>"
    );
    let hashed = message_id_for(&key("a<b>@c"), "example.com");
    assert!(
        hashed.starts_with("<h") && hashed.ends_with("@example.com>"),
        "{hashed}"
    );
    assert_eq!(hashed, message_id_for(&key("a<b>@c"), "example.com"));
}

#[test]
fn header_injection_and_bad_addresses_are_refused() {
    let message = EmailMessage {
        from: "Herald <news@example.com>".into(),
        to: vec!["user@example.org".into()],
        subject: "Hi".into(),
        text: "Hello".into(),
        headers: vec![("X-Evil".into(), "a\r\nBcc: victim@example.net".into())],
        ..EmailMessage::default()
    };
    assert!(compose(&message, &key("k1"), None).is_err());
    let message = EmailMessage {
        headers: vec![],
        to: vec!["not an address".into()],
        ..message
    };
    assert!(compose(&message, &key("k1"), None).is_err());
}

#[test]
fn the_password_never_appears_when_the_config_is_shown() {
    let config: SmtpConfig = serde_json::from_str(
        r#"{"host": "smtp.example.com", "username": "u", "password": "hunter2-secret"}"#,
    )
    .unwrap();
    assert_eq!(config.security, SmtpSecurity::Starttls);
    assert!(!serde_json::to_string(&config).unwrap().contains("hunter2"));
    assert!(!format!("{config:?}").contains("hunter2"));
}
