//! The kinds of channel Herald delivers over.

use herald_channels::PluginKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// The in-app inbox (SSE, WebSocket, polling).
    Inbox,
    Email,
    /// Mobile/web push through FCM, APNs or JPush.
    Push,
    Webhook,
    Mqtt,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 5] = [
        ChannelKind::Inbox,
        ChannelKind::Email,
        ChannelKind::Push,
        ChannelKind::Webhook,
        ChannelKind::Mqtt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Inbox => "inbox",
            ChannelKind::Email => "email",
            ChannelKind::Push => "push",
            ChannelKind::Webhook => "webhook",
            ChannelKind::Mqtt => "mqtt",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The channel plugin `kind` delivers: the one place plugins meet channels.
    pub fn of_plugin(kind: PluginKind) -> Self {
        match kind {
            PluginKind::Smtp => ChannelKind::Email,
            PluginKind::Webhook => ChannelKind::Webhook,
            PluginKind::Mqtt => ChannelKind::Mqtt,
            PluginKind::Fcm | PluginKind::Apns | PluginKind::Jpush => ChannelKind::Push,
        }
    }

    /// The channel an instance of plugin kind `kind` (`smtp`, `fcm`, …) delivers.
    pub fn of_instance_kind(kind: &str) -> Option<Self> {
        PluginKind::parse(kind).map(Self::of_plugin)
    }
}

impl std::fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
