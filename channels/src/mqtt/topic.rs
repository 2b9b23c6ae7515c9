//! Per-subscriber topics from a template such as `herald/{subscriber}/inbox`.

use std::fmt;

use serde::{Deserialize, Serialize};

const PLACEHOLDER: &str = "{subscriber}";

/// A topic or template that would publish somewhere unintended.
#[derive(Debug, thiserror::Error)]
pub enum InvalidTopic {
    #[error("a topic template needs exactly one `{{subscriber}}` and no other braces or wildcards")]
    Template,
    #[error("a subscriber id in a topic must be non-empty and free of `/`, `+`, `#` and NUL")]
    Subscriber,
}

/// A validated topic template with exactly one `{subscriber}` placeholder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TopicTemplate(String);

impl TopicTemplate {
    pub fn parse(template: impl Into<String>) -> Result<Self, InvalidTopic> {
        let template = template.into();
        let rest = template.replacen(PLACEHOLDER, "", 1);
        let placeholders = template.matches(PLACEHOLDER).count();
        let stray = rest.contains(['{', '}', '+', '#', '\0']);
        if placeholders != 1 || stray {
            return Err(InvalidTopic::Template);
        }
        Ok(Self(template))
    }

    /// The topic for one subscriber. Ids that could climb or widen the topic tree
    /// (`/`, wildcards) are refused rather than escaped: MQTT has no escaping.
    pub fn render(&self, subscriber: &str) -> Result<String, InvalidTopic> {
        if subscriber.is_empty() || subscriber.contains(['/', '+', '#', '\0']) {
            return Err(InvalidTopic::Subscriber);
        }
        Ok(self.0.replacen(PLACEHOLDER, subscriber, 1))
    }
}

impl TryFrom<String> for TopicTemplate {
    type Error = InvalidTopic;
    fn try_from(template: String) -> Result<Self, Self::Error> {
        Self::parse(template)
    }
}

impl From<TopicTemplate> for String {
    fn from(template: TopicTemplate) -> Self {
        template.0
    }
}

impl fmt::Display for TopicTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
