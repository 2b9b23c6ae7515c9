use sea_orm::entity::prelude::*;

/// One message in a subscriber's in-app inbox, or one shared by many (a broadcast).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inbox_items")]
pub struct Model {
    /// Only grows: the SSE event id and the resume cursor.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// None for an item shared by the recipients `inbox_shares` names.
    pub subscriber_id: Option<i64>,
    /// The message of a shared item (a personal item names its delivery instead).
    pub message_id: Option<i64>,
    pub delivery_id: Option<i64>,
    pub category: String,
    pub title: String,
    pub body: String,
    pub data: Json,
    pub created_at: DateTimeUtc,
    pub received_at: Option<DateTimeUtc>,
    pub displayed_at: Option<DateTimeUtc>,
    pub read_at: Option<DateTimeUtc>,
    pub archived_at: Option<DateTimeUtc>,
    /// Its message was recalled: a tombstone, out of every list, count and resume.
    pub recalled_at: Option<DateTimeUtc>,
    /// How many delivered recipients of a shared item have its share bits as their
    /// entry in the delivery log (and no delivery row). 0 for items stored with a row
    /// per recipient, and once retention has moved the entries to the totals.
    pub logged_recipients: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
