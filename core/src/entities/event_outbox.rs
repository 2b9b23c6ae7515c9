use sea_orm::entity::prelude::*;

/// An event waiting to be put in a batch for one endpoint.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub endpoint_id: i64,
    pub event_type: String,
    pub message_id: i64,
    /// 0 for an event about the message as a whole (a recall).
    pub subscriber_id: i64,
    pub channel: String,
    pub detail: Option<String>,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
