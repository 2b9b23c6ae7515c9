use sea_orm::entity::prelude::*;

/// Where a product wants delivery events sent.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_endpoints")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Who registered it, as the audit log names them.
    pub owner: String,
    pub url: String,
    pub description: String,
    /// The Standard Webhooks signing secret, sealed.
    pub secret: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
