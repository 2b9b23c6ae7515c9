//! A campaign or a transactional send may choose the channel instances it goes through
//! (by name, one per kind: the marketing SMTP relay rather than the transactional one),
//! and its message keeps that choice for the worker. Absent: the first enabled instance
//! of each kind, as before.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000008_chosen_instances"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["campaigns", "messages"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(ColumnDef::new("instances").json_binary().null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
