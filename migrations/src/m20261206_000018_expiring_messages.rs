//! An index over the messages that expire. The worker ends the unfinished deliveries
//! of expired messages at every upkeep round (`expire_due`); without the index each
//! round read every message ever sent, and per-user sends make a message each.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000018_expiring_messages"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Partial: most messages never expire. `expires_at <= $1` implies the
        // predicate, on SQLite as on Postgres.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_messages_expiring ON messages (expires_at) \
                 WHERE expires_at IS NOT NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX idx_messages_expiring")
            .await?;
        Ok(())
    }
}
