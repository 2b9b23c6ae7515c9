use sea_orm::entity::prelude::*;

/// A blocklist or allowlist entry.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "list_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `block` or `allow`.
    pub list: String,
    /// `subscriber`, `email`, `email_domain`, `phone` or `endpoint`.
    pub kind: String,
    pub value: String,
    /// Only this channel; every channel when absent.
    pub channel: Option<String>,
    pub reason: String,
    pub expires_at: Option<DateTimeUtc>,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
