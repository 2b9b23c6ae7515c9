use sea_orm::entity::prelude::*;

/// One delivery slot taken: what frequency caps and dedup windows count.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "send_ledger")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub subscriber_id: i64,
    pub channel: String,
    pub category: String,
    pub template_id: Option<i64>,
    pub dedup_key: Option<String>,
    pub sent_at: DateTimeUtc,
    /// The message the slot was reserved for.
    pub message_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
