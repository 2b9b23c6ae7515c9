//! The send ledger keeps its slots as bitmaps: one row per message, channel, instant and
//! block of 64 subscriber ids (the blocks of `inbox_shares`), a bit per subscriber. A
//! page of 1,000 neighbouring recipients reserves about 16 rows instead of 1,000, and a
//! cap reads as few. Existing slots are carried over, grouped the same way, so caps
//! and dedup windows count exactly what they counted before.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::schema_util::index;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000017_ledger_bitmaps"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        manager
            .create_table(
                Table::create()
                    .table("send_ledger_blocks")
                    .col(big_pk_auto("id"))
                    .col(big_integer_null("message_id"))
                    .col(string("channel"))
                    .col(string("category"))
                    .col(big_integer_null("template_id"))
                    .col(string_null("dedup_key"))
                    .col(timestamp_with_time_zone("sent_at"))
                    .col(big_integer("block"))
                    .col(big_integer("bits"))
                    .to_owned(),
            )
            .await?;
        // Bits of distinct subscribers never overlap, so on SQLite (which has no
        // bitwise aggregate) their distinct sum is their union.
        let union = match manager.get_database_backend() {
            DbBackend::Postgres => "bit_or(1::bigint << (subscriber_id % 64)::int)",
            _ => "sum(DISTINCT 1 << (subscriber_id % 64))",
        };
        db.execute_unprepared(&format!(
            "INSERT INTO send_ledger_blocks \
               (message_id, channel, category, template_id, dedup_key, sent_at, block, bits) \
             SELECT message_id, channel, category, template_id, dedup_key, sent_at, \
                    subscriber_id / 64, {union} \
             FROM send_ledger \
             GROUP BY message_id, channel, category, template_id, dedup_key, sent_at, \
                      subscriber_id / 64"
        ))
        .await?;
        manager
            .drop_table(Table::drop().table("send_ledger").to_owned())
            .await?;
        manager
            .rename_table(
                Table::rename()
                    .table("send_ledger_blocks", "send_ledger")
                    .to_owned(),
            )
            .await?;
        // Caps and dedup windows read a page's blocks since an instant; a page run
        // again and a slot given back find a message's blocks.
        index(manager, "send_ledger", &["block", "sent_at"]).await?;
        index(manager, "send_ledger", &["message_id", "block"]).await
    }
}
