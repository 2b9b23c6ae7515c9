use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "subscribers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub external_id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub timezone: Option<String>,
    pub locale: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub tags: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub attributes: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Subscriber tokens issued before this (whole) second are refused.
    pub tokens_revoked_before: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
