//! Delivery engine v2 (issue 18): a campaign's audience is cut into pages, each sent by
//! one apalis task, and a delivery is written once, in its final state, after it was
//! sent.
//!
//! - `delivery_pages`: one row per page of a campaign's audience (the subscriber ids in
//!   `(after_id, last_id]`). It says which pages exist, which were handed to the job
//!   queue, which task holds each, and which are done, so a campaign completes only
//!   when all its pages are, and a page never handed over (a crash between the two
//!   steps) is handed over again.
//! - `send_ledger.message_id`: the message a slot was reserved for. A page that is run
//!   again after a crash finds the slots it reserved before and sends those again (with
//!   the same idempotency key) instead of counting them against the cap.
//! - `deliveries.first_attempt_*`: the first attempt is recorded in the delivery's own
//!   row, so a delivery sent at its first try costs one row; later attempts are rows of
//!   `delivery_attempts` as before.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::schema_util::{fk, unique_index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000004_delivery_pages"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("delivery_pages")
                    .col(big_pk_auto("id"))
                    .col(big_integer("message_id"))
                    .col(big_integer_null("after_id"))
                    .col(big_integer("last_id"))
                    .col(string_null("task_id"))
                    .col(timestamp_with_time_zone_null("claimed_at"))
                    .col(timestamp_with_time_zone_null("pushed_at"))
                    .col(timestamp_with_time_zone_null("done_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk(
                        "delivery_pages",
                        "message_id",
                        "messages",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        unique_index(manager, "delivery_pages", &["message_id", "last_id"]).await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX idx_delivery_pages_open ON delivery_pages (message_id) WHERE done_at IS NULL",
        )
        .await?;
        for column in [
            ColumnDef::new("first_attempt_at")
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new("first_attempt_ms")
                .integer()
                .null()
                .to_owned(),
            ColumnDef::new("first_attempt_detail")
                .text()
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("deliveries")
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("send_ledger")
                    .add_column(ColumnDef::new("message_id").big_integer().null())
                    .to_owned(),
            )
            .await
    }
}
