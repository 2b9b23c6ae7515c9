use sea_orm::entity::prelude::*;

/// One send: a campaign run or a transactional request. Its deliveries hang off it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `campaign` or `transactional`.
    pub kind: String,
    pub campaign_id: Option<i64>,
    pub category: String,
    pub template_id: Option<i64>,
    pub template_version: Option<i32>,
    /// Inline content, for a transactional send without a template.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub content: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub data: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub channels: Json,
    /// The channel instances chosen by name (a JSON array), one per kind; absent: the
    /// first enabled instance of each kind.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub instances: Option<Json>,
    /// Who asked: `api_key:<id>`, `operator:<id>` or `campaign`.
    pub sender: String,
    pub dedup_key: Option<String>,
    pub expires_at: Option<DateTimeUtc>,
    /// When every recipient of a campaign had been planned.
    pub dispatched_at: Option<DateTimeUtc>,
    /// When it was withdrawn from the inboxes it reached.
    pub recalled_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
