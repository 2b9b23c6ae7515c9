//! One tagged configuration enum for every plugin; `build` turns it into the
//! running plugin. Secrets inside are `SecretString`s: redacted in `Debug` and
//! left out when the configuration is serialised for display.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::apns::{ApnsChannel, ApnsConfig};
use crate::email::{EmailChannel, SmtpConfig};
use crate::fcm::{FcmChannel, FcmConfig};
use crate::jpush::{JpushChannel, JpushConfig};
use crate::mqtt::{MqttChannel, MqttConfig};
use crate::webhook::{WebhookChannel, WebhookConfig};
use crate::{BuildError, Channel, PluginKind};

/// The settings of one channel instance, tagged by `kind`:
/// `{"kind": "smtp", "host": "...", ...}` (its OpenAPI schema: `config_schema.rs`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChannelConfig {
    Smtp(SmtpConfig),
    Webhook(WebhookConfig),
    Fcm(FcmConfig),
    Apns(ApnsConfig),
    Jpush(JpushConfig),
    Mqtt(MqttConfig),
}

/// For secrets: never serialised (shown settings leave them out), yet in the settings'
/// schema as optional write-only fields, which `skip_serializing` would drop.
pub(crate) fn never_shown<T>(_: &T) -> bool {
    true
}

/// What a secret would serialise as; never called (see [`never_shown`]).
pub(crate) fn unshown<T, S: serde::Serializer>(_: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_none()
}

impl ChannelConfig {
    pub fn kind(&self) -> PluginKind {
        match self {
            Self::Smtp(_) => PluginKind::Smtp,
            Self::Webhook(_) => PluginKind::Webhook,
            Self::Fcm(_) => PluginKind::Fcm,
            Self::Apns(_) => PluginKind::Apns,
            Self::Jpush(_) => PluginKind::Jpush,
            Self::Mqtt(_) => PluginKind::Mqtt,
        }
    }

    /// Builds the running plugin. Credentials are parsed here, so a bad key fails
    /// now and not at the first send. MQTT starts its connection task, so this
    /// must run inside a tokio runtime.
    pub fn build(&self) -> Result<Arc<dyn Channel>, BuildError> {
        Ok(match self {
            Self::Smtp(config) => Arc::new(EmailChannel::new(config)?),
            Self::Webhook(config) => Arc::new(WebhookChannel::new(config)?),
            Self::Fcm(config) => Arc::new(FcmChannel::new(config)?),
            Self::Apns(config) => Arc::new(ApnsChannel::new(config)?),
            Self::Jpush(config) => Arc::new(JpushChannel::new(config)?),
            Self::Mqtt(config) => Arc::new(MqttChannel::new(config)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_tagged_by_kind_and_shown_without_secrets() {
        let config: ChannelConfig = serde_json::from_value(serde_json::json!({
            "kind": "webhook",
            "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "allow_list": ["10.0.0.0/8", "hooks.internal:8443"]
        }))
        .unwrap();
        assert_eq!(config.kind(), PluginKind::Webhook);
        let shown = serde_json::to_value(&config).unwrap();
        assert_eq!(shown["kind"], "webhook");
        assert_eq!(shown["allow_list"][1], "hooks.internal:8443");
        assert!(shown.get("secret").is_none());
        assert_eq!(config.build().unwrap().kind(), PluginKind::Webhook);
    }

    #[test]
    fn the_settings_tag_is_the_plugin_kinds_name() {
        for kind in PluginKind::ALL {
            assert_eq!(PluginKind::parse(kind.as_str()), Some(kind));
            // Settings of this kind's tag are refused for what is missing, not for
            // an unknown kind.
            let error = serde_json::from_value::<ChannelConfig>(
                serde_json::json!({ "kind": kind.as_str() }),
            )
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
            assert!(!error.contains("unknown variant"), "{kind}: {error}");
        }
        assert_eq!(PluginKind::parse("email"), None);
    }
}
