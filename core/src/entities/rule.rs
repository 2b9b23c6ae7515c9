use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "rules")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// `frequency_cap`, `quiet_hours`, `keyword` or `dedup`.
    pub kind: String,
    /// `global`, `channel` or `category`.
    pub scope: String,
    pub scope_value: Option<String>,
    pub enabled: bool,
    #[sea_orm(column_type = "JsonBinary")]
    pub exempt_categories: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub params: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
