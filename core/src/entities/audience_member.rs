use sea_orm::entity::prelude::*;

/// An external id named by a list or file audience.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audience_members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub audience_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub external_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
