use sea_orm::entity::prelude::*;

/// A subscriber's unread count and the version of their inbox it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inbox_states")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub subscriber_id: i64,
    pub unread: i64,
    pub version: i64,
    /// Shared items up to this id are counted in `unread` and `version`; those after it
    /// and meant for the subscriber are not yet (see `inbox::unread`).
    pub shared_through: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
