use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "campaigns")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub template_id: i64,
    pub template_version: i32,
    pub audience_id: i64,
    #[sea_orm(column_type = "JsonBinary")]
    pub channels: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub schedule: Json,
    pub priority: i32,
    pub category: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub data: Json,
    pub expires_at: Option<DateTimeUtc>,
    pub status: String,
    /// The channel instances chosen by name (a JSON array), one per kind; absent: the
    /// first enabled instance of each kind.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub instances: Option<Json>,
    pub created_by: Option<i64>,
    pub approved_by: Option<i64>,
    /// SHA-256 (hex) of what the approval covered; `None` while not approved.
    pub approved_hash: Option<String>,
    pub approved_at: Option<DateTimeUtc>,
    /// When its message was withdrawn from the inboxes it reached.
    pub recalled_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
