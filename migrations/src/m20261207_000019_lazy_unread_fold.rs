//! A broadcast no longer moves each recipient's unread pair as it is stored (ADR 0003,
//! the lazy fold): a subscriber's pair is their stored pair plus one unread and one
//! version per shared item meant for them after `shared_through`. Until now every
//! shared item moved its recipients' pairs when stored, so every existing pair already
//! counts every shared item there is.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::big_integer;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000019_lazy_unread_fold"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("inbox_states")
                    .add_column(big_integer("shared_through").default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE inbox_states SET shared_through = \
                 (SELECT COALESCE(MAX(id), 0) FROM inbox_items WHERE subscriber_id IS NULL)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("inbox_states")
                    .drop_column("shared_through")
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
