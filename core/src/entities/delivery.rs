use sea_orm::entity::prelude::*;

/// One message to one subscriber on one channel, and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub message_id: i64,
    pub subscriber_id: i64,
    pub channel: String,
    /// The subscriber endpoint (device, URL) it goes to: push and webhook deliveries
    /// have one each; 0 for the subscriber's own address (email, inbox, MQTT's default
    /// topic) or before an endpoint was chosen.
    pub endpoint_id: i64,
    /// queued | filtered | deferred | sending | delivered | failed | dead | expired | cancelled
    pub status: String,
    /// The check that filtered it: opted_out | no_address | blocked | dedup | quiet_hours | frequency_cap | keyword
    pub filter: Option<String>,
    pub rule_id: Option<i64>,
    pub list_entry_id: Option<i64>,
    pub reason: Option<String>,
    /// Not to be attempted before this instant (a deferral or a retry's backoff).
    pub not_before: Option<DateTimeUtc>,
    pub attempts: i32,
    /// The first attempt, kept in the row itself (a delivery sent at its first try is
    /// one row); later attempts are rows of `delivery_attempts`.
    pub first_attempt_at: Option<DateTimeUtc>,
    pub first_attempt_ms: Option<i32>,
    pub first_attempt_detail: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::subscriber::Entity",
        from = "Column::SubscriberId",
        to = "super::subscriber::Column::Id"
    )]
    Subscriber,
}

impl Related<super::subscriber::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Subscriber.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
