use sea_orm::entity::prelude::*;

/// One page of a campaign's audience: the subscribers with ids in `(after_id, last_id]`,
/// sent by one job-queue task.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "delivery_pages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub message_id: i64,
    pub after_id: Option<i64>,
    pub last_id: i64,
    /// The job-queue task that holds the page (a task run again keeps its id).
    pub task_id: Option<String>,
    pub claimed_at: Option<DateTimeUtc>,
    /// When the page was handed to the job queue.
    pub pushed_at: Option<DateTimeUtc>,
    pub done_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
