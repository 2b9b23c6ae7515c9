//! Which check filtered a delivery (`opted_out`, `no_address`, `blocked`, `dedup`,
//! `quiet_hours`, `frequency_cap`), so campaign counters and reports can break
//! filtered deliveries down without parsing reasons.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000005_delivery_filter"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("deliveries")
                    .add_column(string_null("filter"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("deliveries")
                    .drop_column("filter")
                    .to_owned(),
            )
            .await
    }
}
