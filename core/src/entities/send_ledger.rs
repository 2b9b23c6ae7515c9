use sea_orm::entity::prelude::*;

/// Delivery slots taken by one message on one channel at one instant, for the
/// subscribers of one block of 64 ids (a bit each, see [`crate::blocks`]): what
/// frequency caps, budgets and dedup windows count.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "send_ledger")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The message the slots were reserved for (unset on slots from before it was
    /// recorded).
    pub message_id: Option<i64>,
    pub channel: String,
    pub category: String,
    pub template_id: Option<i64>,
    pub dedup_key: Option<String>,
    pub sent_at: DateTimeUtc,
    pub block: i64,
    pub bits: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
