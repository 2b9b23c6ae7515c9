//! Rows tests need that no API creates yet.

use chrono::Utc;
use herald_core::entities::message;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection};
use serde_json::{Value, json};

use super::Session;

/// A transactional message in `category` on `channels`, from version 1 of `template_id`
/// when given.
pub async fn insert_message(
    db: &DatabaseConnection,
    category: &str,
    template_id: Option<i64>,
    channels: Value,
) -> message::Model {
    message::ActiveModel {
        kind: Set("transactional".into()),
        campaign_id: Set(None),
        category: Set(category.into()),
        template_id: Set(template_id),
        template_version: Set(template_id.map(|_| 1)),
        content: Set(None),
        sender: Set("test".into()),
        data: Set(json!({})),
        channels: Set(channels),
        dedup_key: Set(None),
        expires_at: Set(None),
        dispatched_at: Set(Some(Utc::now())),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("message")
}

/// A webhook channel instance named `hooks` that may reach the tests' loopback receivers.
pub async fn webhook_channel(admin: &Session) {
    admin
        .ok(
            reqwest::Method::POST,
            "/v1/channels",
            &json!({ "name": "hooks", "settings": { "kind": "webhook",
                "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "allow_list": ["127.0.0.0/8"] } }),
        )
        .await;
}
