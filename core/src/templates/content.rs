//! What a template holds: one optional part per channel, each made of template texts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::channel::ChannelKind;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateContent {
    #[validate(nested)]
    pub inbox: Option<InboxContent>,
    #[validate(nested)]
    pub email: Option<EmailContent>,
    #[validate(nested)]
    pub push: Option<PushContent>,
    /// The JSON body posted to a webhook; values print as JSON (`{"name": {{ subscriber.email }}}`).
    #[validate(nested)]
    pub webhook: Option<PayloadContent>,
    /// The MQTT message payload; values print as JSON, like webhook payloads.
    #[validate(nested)]
    pub mqtt: Option<PayloadContent>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboxContent {
    #[validate(length(min = 1, max = 1000))]
    pub title: String,
    #[validate(length(max = 20000))]
    #[serde(default)]
    pub body: String,
    /// Extra fields for the client app; each value is a template text.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailContent {
    #[validate(length(min = 1, max = 1000))]
    pub subject: String,
    /// HTML body; values are HTML-escaped when printed.
    #[validate(length(max = 500000))]
    pub html: Option<String>,
    /// Plain-text body.
    #[validate(length(max = 200000))]
    pub text: Option<String>,
    /// The sender (`Name <address>` or an address), sent as is; the worker's
    /// `delivery.email_from` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(max = 320), custom(function = "mailbox"))]
    pub from: Option<String>,
    /// Where replies go (`Name <address>` or an address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(max = 320), custom(function = "mailbox"))]
    pub reply_to: Option<String>,
}

/// `Name <address>` or a bare address, the address valid.
fn mailbox(value: &str) -> Result<(), validator::ValidationError> {
    use validator::ValidateEmail;
    let address = match value.trim().rsplit_once('<') {
        Some((_, rest)) => rest.strip_suffix('>').unwrap_or(""),
        None => value.trim(),
    };
    if address.validate_email() {
        Ok(())
    } else {
        Err(validator::ValidationError::new("mailbox")
            .with_message("must be an address or `Name <address>`".into()))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushContent {
    #[validate(length(min = 1, max = 1000))]
    pub title: String,
    #[validate(length(max = 4000))]
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayloadContent {
    #[validate(length(min = 1, max = 200000))]
    pub payload: String,
}

/// How a part's output is escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escaping {
    None,
    Html,
    Json,
}

/// HTML bodies escape HTML, payloads print values as JSON, the rest is plain text.
pub fn escaping_of(path: &str) -> Escaping {
    if path.ends_with("html") {
        Escaping::Html
    } else if path.ends_with("payload") {
        Escaping::Json
    } else {
        Escaping::None
    }
}

/// One template text inside the content, with its dotted path (`email.subject`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    pub path: String,
    pub source: &'a str,
    pub escaping: Escaping,
}

impl TemplateContent {
    /// The channels this content can be sent on.
    pub fn channels(&self) -> Vec<ChannelKind> {
        let mut channels = Vec::new();
        for (present, kind) in [
            (self.inbox.is_some(), ChannelKind::Inbox),
            (self.email.is_some(), ChannelKind::Email),
            (self.push.is_some(), ChannelKind::Push),
            (self.webhook.is_some(), ChannelKind::Webhook),
            (self.mqtt.is_some(), ChannelKind::Mqtt),
        ] {
            if present {
                channels.push(kind);
            }
        }
        channels
    }

    /// Every template text, in a stable order.
    pub fn parts(&self) -> Vec<Part<'_>> {
        fn part(path: impl Into<String>, source: &str) -> Part<'_> {
            let path = path.into();
            Part {
                escaping: escaping_of(&path),
                path,
                source,
            }
        }
        let mut parts = Vec::new();
        if let Some(inbox) = &self.inbox {
            parts.push(part("inbox.title", &inbox.title));
            parts.push(part("inbox.body", &inbox.body));
            for (key, value) in &inbox.data {
                parts.push(part(format!("inbox.data.{key}"), value));
            }
        }
        if let Some(email) = &self.email {
            parts.push(part("email.subject", &email.subject));
            if let Some(html) = &email.html {
                parts.push(part("email.html", html));
            }
            if let Some(text) = &email.text {
                parts.push(part("email.text", text));
            }
        }
        if let Some(push) = &self.push {
            parts.push(part("push.title", &push.title));
            parts.push(part("push.body", &push.body));
            for (key, value) in &push.data {
                parts.push(part(format!("push.data.{key}"), value));
            }
        }
        if let Some(webhook) = &self.webhook {
            parts.push(part("webhook.payload", &webhook.payload));
        }
        if let Some(mqtt) = &self.mqtt {
            parts.push(part("mqtt.payload", &mqtt.payload));
        }
        parts
    }
}
