use sea_orm::entity::prelude::*;

/// A signed request of events to one endpoint, and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_batches")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub endpoint_id: i64,
    /// queued | sending | delivered | dead
    pub status: String,
    pub attempts: i32,
    /// Due from (queued), or the end of the sender's lease (sending).
    pub not_before: DateTimeUtc,
    pub event_count: i32,
    /// The body exactly as sent, so a retry repeats it byte for byte.
    pub payload: String,
    pub last_error: Option<String>,
    pub last_response: Option<String>,
    pub last_attempt_at: Option<DateTimeUtc>,
    pub last_attempt_ms: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
