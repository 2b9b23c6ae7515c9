//! A subscriber's tokens can be revoked (issue 17): those issued before
//! `subscribers.tokens_revoked_before` are refused.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000003_subscriber_token_revocation"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("subscribers")
                    .add_column(
                        ColumnDef::new("tokens_revoked_before")
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }
}
