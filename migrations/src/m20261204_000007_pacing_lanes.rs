//! The pace of each worker's lanes (a channel instance and a receiving host) that are
//! paced or were pushed back, published every heartbeat so the API and the console can
//! show them. A lane that was never pushed back is not written.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    double_null, string, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000007_pacing_lanes"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("pacing_lanes")
                    .col(string("worker"))
                    .col(string("instance"))
                    .col(string("host"))
                    .col(double_null("rate_per_sec"))
                    .col(timestamp_with_time_zone_null("throttled_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .primary_key(Index::create().col("worker").col("instance").col("host"))
                    .to_owned(),
            )
            .await
    }
}
