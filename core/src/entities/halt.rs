use sea_orm::entity::prelude::*;

/// A stop of sending (the kill switch) that holds until it is released.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "halts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `all`, `channel` (one channel instance) or `campaign`.
    pub scope: String,
    /// The channel instance's or campaign's id; 0 for `all`.
    pub target_id: i64,
    pub reason: String,
    /// Who stopped it, as the audit log names them.
    pub halted_by: String,
    pub halted_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
