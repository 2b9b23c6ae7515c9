//! A broadcast's inbox item is stored once (ADR 0003): one `inbox_items` row without a
//! subscriber, naming its message, shared by every recipient of one planned page.
//!
//! - `inbox_shares` says whom a shared item was meant for: subscriber ids in blocks of
//!   64, one bit each, so "was item i meant for subscriber s" is one primary-key lookup
//!   and a mask, in SQL on both databases (`bits & mask`).
//! - `inbox_receipts` holds what one subscriber did with a shared item (received,
//!   displayed, read, archived), written only when they act.
//!
//! SQLite cannot drop a NOT NULL constraint with ALTER TABLE; removing one does not
//! change how rows are stored, so the table's definition is edited in place, as SQLite
//! documents (and as m20261204_000009 did for a foreign key).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::schema_util::{fk, index, rewrite_sqlite_definition, sqlite_definition};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000016_shared_inbox_items"
    }
}

/// How sea-query wrote the subscriber column of `inbox_items` on SQLite.
const REQUIRED_SUBSCRIBER: &str = r#""subscriber_id" integer NOT NULL"#;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Sqlite => {
                let definition = sqlite_definition(manager, "inbox_items").await?;
                if definition.contains(REQUIRED_SUBSCRIBER) {
                    let edited =
                        definition.replacen(REQUIRED_SUBSCRIBER, r#""subscriber_id" integer"#, 1);
                    rewrite_sqlite_definition(manager, "inbox_items", edited).await?;
                }
            }
            _ => {
                db.execute_unprepared(
                    "ALTER TABLE inbox_items ALTER COLUMN subscriber_id DROP NOT NULL",
                )
                .await?;
            }
        }
        manager
            .alter_table(
                Table::alter()
                    .table("inbox_items")
                    .add_column(ColumnDef::new("message_id").big_integer().null())
                    .to_owned(),
            )
            .await?;
        index(manager, "inbox_items", &["message_id"]).await?;
        manager
            .create_table(
                Table::create()
                    .table("inbox_shares")
                    .col(big_integer("block"))
                    .col(big_integer("item_id"))
                    .col(big_integer("bits"))
                    .primary_key(Index::create().col("block").col("item_id"))
                    .foreign_key(&mut fk(
                        "inbox_shares",
                        "item_id",
                        "inbox_items",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "inbox_shares", &["item_id"]).await?;
        manager
            .create_table(
                Table::create()
                    .table("inbox_receipts")
                    .col(big_integer("subscriber_id"))
                    .col(big_integer("item_id"))
                    .col(timestamp_with_time_zone_null("received_at"))
                    .col(timestamp_with_time_zone_null("displayed_at"))
                    .col(timestamp_with_time_zone_null("read_at"))
                    .col(timestamp_with_time_zone_null("archived_at"))
                    .primary_key(Index::create().col("subscriber_id").col("item_id"))
                    .foreign_key(&mut fk(
                        "inbox_receipts",
                        "subscriber_id",
                        "subscribers",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "inbox_receipts",
                        "item_id",
                        "inbox_items",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "inbox_receipts", &["item_id"]).await
    }
}
