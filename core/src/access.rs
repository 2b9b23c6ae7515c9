//! Roles of operators and scopes of API keys. A route names the scope it needs; an
//! operator holds the scopes of its role, an API key the scopes it was given.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Editor,
    Reviewer,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Editor, Role::Reviewer, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Reviewer => "reviewer",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether an operator of this role holds `scope`.
    pub fn grants(self, scope: Scope) -> bool {
        use Scope::*;
        match self {
            Role::Admin => true,
            Role::Editor => matches!(
                scope,
                SubscribersRead
                    | SubscribersWrite
                    | TemplatesRead
                    | TemplatesWrite
                    | RulesRead
                    | AudiencesRead
                    | AudiencesWrite
                    | CampaignsRead
                    | CampaignsWrite
                    | DeliveriesRead
                    | DeliveriesRedrive
            ),
            Role::Reviewer => matches!(
                scope,
                SubscribersRead
                    | TemplatesRead
                    | RulesRead
                    | AudiencesRead
                    | CampaignsRead
                    | CampaignsReview
                    | DeliveriesRead
                    | SendingHalt
            ),
            Role::Viewer => matches!(
                scope,
                SubscribersRead
                    | AuditRead
                    | TemplatesRead
                    | RulesRead
                    | AudiencesRead
                    | CampaignsRead
                    | DeliveriesRead
            ),
        }
    }
}

/// A permission a route requires. The string form appears in the OpenAPI document
/// (as the route's security scope) and in API keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum Scope {
    #[serde(rename = "subscribers:read")]
    SubscribersRead,
    #[serde(rename = "subscribers:write")]
    SubscribersWrite,
    #[serde(rename = "messages:send")]
    MessagesSend,
    #[serde(rename = "operators:manage")]
    OperatorsManage,
    #[serde(rename = "api_keys:manage")]
    ApiKeysManage,
    #[serde(rename = "audit:read")]
    AuditRead,
    #[serde(rename = "templates:read")]
    TemplatesRead,
    #[serde(rename = "templates:write")]
    TemplatesWrite,
    #[serde(rename = "rules:read")]
    RulesRead,
    #[serde(rename = "rules:write")]
    RulesWrite,
    #[serde(rename = "audiences:read")]
    AudiencesRead,
    #[serde(rename = "audiences:write")]
    AudiencesWrite,
    #[serde(rename = "campaigns:read")]
    CampaignsRead,
    #[serde(rename = "campaigns:write")]
    CampaignsWrite,
    #[serde(rename = "campaigns:review")]
    CampaignsReview,
    #[serde(rename = "channels:manage")]
    ChannelsManage,
    #[serde(rename = "deliveries:read")]
    DeliveriesRead,
    #[serde(rename = "deliveries:redrive")]
    DeliveriesRedrive,
    /// Stop and release sending (the kill switch).
    #[serde(rename = "sending:halt")]
    SendingHalt,
    /// Register and manage endpoints for delivery events, and read what they were sent.
    #[serde(rename = "events:manage")]
    EventsManage,
}

impl Scope {
    pub const ALL: [Scope; 20] = [
        Scope::SubscribersRead,
        Scope::SubscribersWrite,
        Scope::MessagesSend,
        Scope::OperatorsManage,
        Scope::ApiKeysManage,
        Scope::AuditRead,
        Scope::TemplatesRead,
        Scope::TemplatesWrite,
        Scope::RulesRead,
        Scope::RulesWrite,
        Scope::AudiencesRead,
        Scope::AudiencesWrite,
        Scope::CampaignsRead,
        Scope::CampaignsWrite,
        Scope::CampaignsReview,
        Scope::ChannelsManage,
        Scope::DeliveriesRead,
        Scope::DeliveriesRedrive,
        Scope::SendingHalt,
        Scope::EventsManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SubscribersRead => "subscribers:read",
            Scope::SubscribersWrite => "subscribers:write",
            Scope::MessagesSend => "messages:send",
            Scope::OperatorsManage => "operators:manage",
            Scope::ApiKeysManage => "api_keys:manage",
            Scope::AuditRead => "audit:read",
            Scope::TemplatesRead => "templates:read",
            Scope::TemplatesWrite => "templates:write",
            Scope::RulesRead => "rules:read",
            Scope::RulesWrite => "rules:write",
            Scope::AudiencesRead => "audiences:read",
            Scope::AudiencesWrite => "audiences:write",
            Scope::CampaignsRead => "campaigns:read",
            Scope::CampaignsWrite => "campaigns:write",
            Scope::CampaignsReview => "campaigns:review",
            Scope::ChannelsManage => "channels:manage",
            Scope::DeliveriesRead => "deliveries:read",
            Scope::DeliveriesRedrive => "deliveries:redrive",
            Scope::SendingHalt => "sending:halt",
            Scope::EventsManage => "events:manage",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    /// Scopes a product service may hold. Managing operators, keys and the audit log
    /// stays with people.
    pub fn grantable_to_api_keys(self) -> bool {
        matches!(
            self,
            Scope::SubscribersRead
                | Scope::SubscribersWrite
                | Scope::MessagesSend
                | Scope::EventsManage
        )
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
            let json = serde_json::to_string(&scope).expect("serializes");
            assert_eq!(json, format!("\"{}\"", scope.as_str()));
        }
    }

    #[test]
    fn only_admins_manage_people_and_keys() {
        for role in [Role::Editor, Role::Reviewer, Role::Viewer] {
            assert!(!role.grants(Scope::OperatorsManage));
            assert!(!role.grants(Scope::ApiKeysManage));
        }
        assert!(Role::Admin.grants(Scope::OperatorsManage));
    }
}
