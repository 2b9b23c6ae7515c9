use sea_orm::entity::prelude::*;

/// Someone who edited or submitted a campaign, and so may not review it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_contributors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub campaign_id: i64,
    /// `operator` or `api_key`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub actor_kind: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub actor_id: i64,
    /// `edited` or `submitted`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub contribution: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
