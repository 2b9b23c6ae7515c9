//! The keys a report groups by, and where a delivery's message came from.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Error, Result};

/// What the deliveries report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupKey {
    /// The campaign (id and name); transactional messages have none.
    Campaign,
    Channel,
    /// The UTC day the delivery was created (planned and decided).
    Day,
    Status,
}

impl GroupKey {
    pub const ALL: [GroupKey; 4] = [
        GroupKey::Campaign,
        GroupKey::Channel,
        GroupKey::Day,
        GroupKey::Status,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GroupKey::Campaign => "campaign",
            GroupKey::Channel => "channel",
            GroupKey::Day => "day",
            GroupKey::Status => "status",
        }
    }

    /// A comma-separated list such as `campaign,day`, in the order the columns should
    /// come; a repeated key counts once. An unknown or missing key names `field`.
    pub fn parse_list(text: &str, field: &str) -> Result<Vec<GroupKey>> {
        let mut keys = Vec::new();
        for name in text.split(',').map(str::trim) {
            let key = Self::ALL
                .into_iter()
                .find(|key| key.as_str() == name)
                .ok_or_else(|| {
                    Error::invalid(
                        field,
                        format!("unknown key `{name}`; use campaign, channel, day or status"),
                    )
                })?;
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        Ok(keys)
    }
}

/// Where a delivery's message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Campaign,
    /// Sent through `POST /v1/messages`: no campaign.
    Transactional,
}

impl MessageKind {
    pub fn of(campaign_id: Option<i64>) -> Self {
        match campaign_id {
            Some(_) => MessageKind::Campaign,
            None => MessageKind::Transactional,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Campaign => "campaign",
            MessageKind::Transactional => "transactional",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_in_order_once_each() {
        assert_eq!(
            GroupKey::parse_list("day, campaign,day", "group_by").unwrap(),
            [GroupKey::Day, GroupKey::Campaign]
        );
        for bad in ["", "week", "campaign,"] {
            let Err(Error::Invalid { field, .. }) = GroupKey::parse_list(bad, "group_by") else {
                panic!("`{bad}` must be refused");
            };
            assert_eq!(field, "group_by");
        }
    }
}
