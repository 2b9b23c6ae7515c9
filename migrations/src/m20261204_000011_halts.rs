//! The kill switch: sending stopped everywhere, through one channel instance, or for
//! one campaign, until an operator releases it. Claims and page runs read this table
//! in their own statements, so a stop holds exactly from its commit.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_pk_auto, string, text, timestamp_with_time_zone};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000011_halts"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("halts")
                    .col(big_pk_auto("id"))
                    // `all`, `channel` (a channel instance) or `campaign`.
                    .col(string("scope"))
                    // The instance's or campaign's id; 0 for `all`.
                    .col(big_integer("target_id"))
                    .col(text("reason"))
                    .col(string("halted_by"))
                    .col(timestamp_with_time_zone("halted_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("halts_scope_target")
                    .table("halts")
                    .col("scope")
                    .col("target_id")
                    .unique()
                    .to_owned(),
            )
            .await
    }
}
