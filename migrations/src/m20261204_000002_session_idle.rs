//! Sessions end after a time without use as well as at their absolute expiry (issue
//! 17): `sessions.last_seen_at`, moved forward at most once a minute while in use.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000002_session_idle"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Sessions open at the upgrade count as seen then.
        manager
            .alter_table(
                Table::alter()
                    .table("sessions")
                    .add_column(
                        ColumnDef::new("last_seen_at")
                            .timestamp_with_time_zone()
                            .not_null()
                            .default(Expr::current_timestamp()),
                    )
                    .to_owned(),
            )
            .await
    }
}
