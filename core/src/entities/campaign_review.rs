use sea_orm::entity::prelude::*;

/// One step of a campaign's history: who moved it from which state to which, and why.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_reviews")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    pub action: String,
    pub from_status: String,
    pub to_status: String,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub comment: String,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
