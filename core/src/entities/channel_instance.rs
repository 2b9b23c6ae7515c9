use sea_orm::entity::prelude::*;

/// A named channel instance and its plugin settings (secrets included: never return
/// this model to a client as is).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "channel_instances")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    /// The plugin's `kind` tag: `smtp`, `webhook`, `fcm`, `apns`, `jpush` or `mqtt`.
    pub kind: String,
    pub enabled: bool,
    #[sea_orm(column_type = "JsonBinary")]
    pub settings: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
