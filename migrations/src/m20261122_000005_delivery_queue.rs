//! Deliveries record which check filtered them (`opted_out`, `no_address`, `blocked`,
//! `dedup`, `quiet_hours`, `frequency_cap`), so counters and reports break filtered
//! deliveries down without parsing reasons.
//!
//! The queue's indexes cover only unfinished deliveries: a delivery reaching a final
//! status leaves them instead of adding an entry, so they stay the size of the backlog,
//! not of the whole log. Workers claim the oldest due deliveries by walking
//! `idx_deliveries_claimable` in id order; with an index over every row, each claim of a
//! campaign's last deliveries stepped over all its delivered ones first (measured: a
//! 1M-recipient campaign spent 4× more Postgres CPU than deliveries). Deferred ones are
//! found by time through `idx_deliveries_unfinished`; dead letters, listed by status,
//! have a small index of their own.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000005_delivery_queue"
    }
}

const UNFINISHED: &str = "status IN ('queued', 'deferred', 'sending')";

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
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX idx_deliveries_status_not_before")
            .await?;
        db.execute_unprepared(&format!(
            "CREATE INDEX idx_deliveries_unfinished ON deliveries (status, not_before) WHERE {UNFINISHED}"
        ))
        .await?;
        db.execute_unprepared(
            "CREATE INDEX idx_deliveries_claimable ON deliveries (id) WHERE status IN ('queued', 'sending')",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX idx_deliveries_dead ON deliveries (id) WHERE status = 'dead'",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX idx_deliveries_dead")
            .await?;
        db.execute_unprepared("DROP INDEX idx_deliveries_unfinished")
            .await?;
        db.execute_unprepared(
            "CREATE INDEX idx_deliveries_status_not_before ON deliveries (status, not_before)",
        )
        .await?;
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
