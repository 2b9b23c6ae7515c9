//! The delivery log as exclusions (ADR 0003): a shared inbox item's delivered
//! recipients get no delivery row; the item's share bits are their entries in the log,
//! and `logged_recipients` says how many there are, so counts and reports add a column
//! instead of counting bits. Items stored before this kept a row per delivered
//! recipient: theirs stays 0, and only items with some are read as log entries
//! (retention sets it back to 0 when it moves an item's entries to the totals).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::big_integer;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000020_shares_as_delivery_log"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("inbox_items")
                    .add_column(big_integer("logged_recipients").default(0))
                    .to_owned(),
            )
            .await?;
        // Retention walks the items that log deliveries by id, as it walks the log.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_inbox_items_logging ON inbox_items (id) \
                 WHERE logged_recipients > 0",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX idx_inbox_items_logging")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("inbox_items")
                    .drop_column("logged_recipients")
                    .to_owned(),
            )
            .await
    }
}
