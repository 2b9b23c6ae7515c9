pub mod http;
pub mod jwt;
pub mod push;
pub mod receiver;
pub mod smtp;
pub mod tls;

use herald_channels::{Delivery, IdempotencyKey, Message};

pub fn delivery(key: &str, message: Message) -> Delivery {
    Delivery {
        idempotency_key: IdempotencyKey::parse(key).unwrap(),
        message,
    }
}

/// A webhook channel signed with the test secret; `allow` is its SSRF allow-list
/// and `request_timeout_ms` its per-request limit.
pub fn webhook_channel(
    allow: &[String],
    request_timeout_ms: u64,
) -> herald_channels::webhook::WebhookChannel {
    let config: herald_channels::webhook::WebhookConfig =
        serde_json::from_value(serde_json::json!({
            "secret": receiver::SECRET,
            "allow_list": allow,
            "http": { "request_timeout_ms": request_timeout_ms, "connect_timeout_ms": 2000 }
        }))
        .unwrap();
    herald_channels::webhook::WebhookChannel::new(&config).unwrap()
}

pub fn webhook(key: &str, url: String) -> Delivery {
    delivery(
        key,
        Message::Webhook(
            herald_channels::WebhookMessage::of(
                url,
                &serde_json::json!({ "type": "message.created", "data": { "text": "hello" } }),
            )
            .unwrap(),
        ),
    )
}
