//! Messages and their deliveries: one message per campaign run or transactional send
//! (with the idempotency keys transactional senders gave),
//! one delivery per (message, subscriber, channel) — unique, so planning a batch twice
//! never sends twice — and one row per delivery attempt.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::schema_util::{fk, index, unique_index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000004_deliveries"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("messages")
                    .col(big_pk_auto("id"))
                    .col(string("kind"))
                    .col(big_integer_null("campaign_id"))
                    .col(string("category"))
                    .col(big_integer_null("template_id"))
                    .col(integer_null("template_version"))
                    .col(json_binary_null("content"))
                    .col(json_binary("data"))
                    .col(json_binary("channels"))
                    .col(string("sender"))
                    .col(string_null("dedup_key"))
                    .col(timestamp_with_time_zone_null("expires_at"))
                    .col(timestamp_with_time_zone_null("dispatched_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk(
                        "messages",
                        "campaign_id",
                        "campaigns",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        // A campaign runs once: one message, found again after a crash.
        unique_index(manager, "messages", &["campaign_id"]).await?;

        manager
            .create_table(
                Table::create()
                    .table("message_requests")
                    .col(string("sender"))
                    .col(string("idempotency_key"))
                    .col(string("request_digest"))
                    .col(big_integer("message_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("sender").col("idempotency_key"))
                    .foreign_key(&mut fk(
                        "message_requests",
                        "message_id",
                        "messages",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("deliveries")
                    .col(big_pk_auto("id"))
                    .col(big_integer("message_id"))
                    .col(big_integer("subscriber_id"))
                    .col(string("channel"))
                    .col(string("status"))
                    .col(big_integer_null("rule_id"))
                    .col(big_integer_null("list_entry_id"))
                    .col(string_null("reason"))
                    .col(timestamp_with_time_zone_null("not_before"))
                    .col(integer("attempts"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "deliveries",
                        "message_id",
                        "messages",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "deliveries",
                        "subscriber_id",
                        "subscribers",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        unique_index(
            manager,
            "deliveries",
            &["message_id", "subscriber_id", "channel"],
        )
        .await?;
        index(manager, "deliveries", &["status", "not_before"]).await?;
        index(manager, "deliveries", &["subscriber_id"]).await?;

        manager
            .create_table(
                Table::create()
                    .table("delivery_attempts")
                    .col(big_pk_auto("id"))
                    .col(big_integer("delivery_id"))
                    .col(integer("attempt"))
                    .col(timestamp_with_time_zone("started_at"))
                    .col(integer("duration_ms"))
                    .col(string("outcome"))
                    .col(text("detail"))
                    .foreign_key(&mut fk(
                        "delivery_attempts",
                        "delivery_id",
                        "deliveries",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "delivery_attempts", &["delivery_id"]).await
    }
}
