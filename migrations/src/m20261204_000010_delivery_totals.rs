//! What the reports keep of deliveries the retention period pruned: their counts per
//! UTC day of creation, campaign, channel, status, filter check and rule, the keys every
//! report groups by. A pruned delivery is final, so its group never changes again; each
//! pruning pass adds its counts to the groups. Absent keys are stored as 0 and '' (a
//! primary key cannot hold NULL, and these totals are upserted by it).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, date, string};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000010_delivery_totals"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("delivery_totals")
                    .col(date("day"))
                    .col(big_integer("campaign_id"))
                    .col(string("channel"))
                    .col(string("status"))
                    .col(string("filter"))
                    .col(big_integer("rule_id"))
                    .col(big_integer("count"))
                    .col(big_integer("sent"))
                    .primary_key(
                        Index::create()
                            .col("day")
                            .col("campaign_id")
                            .col("channel")
                            .col("status")
                            .col("filter")
                            .col("rule_id"),
                    )
                    .to_owned(),
            )
            .await
    }
}
