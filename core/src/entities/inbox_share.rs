use sea_orm::entity::prelude::*;

/// Whom a shared inbox item was meant for: subscriber ids `block * 64 ..= block * 64 + 63`,
/// bit `id % 64` set for each recipient.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inbox_shares")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub block: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub item_id: i64,
    pub bits: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
