use sea_orm::entity::prelude::*;

/// One worker's pace for one lane: a channel instance and a receiving host.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "pacing_lanes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub worker: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub host: String,
    /// Sends per second; `None` while unpaced.
    pub rate_per_sec: Option<f64>,
    pub throttled_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
