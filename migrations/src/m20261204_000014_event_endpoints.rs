//! Delivery events to products: endpoints a product registers, the events each wants
//! (one row per event type and channel, `*` for every channel), an outbox written in
//! the transaction that records what happened, and the signed batches sent from it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_pk_auto, boolean, integer, integer_null, string, string_null, text, text_null,
    timestamp_with_time_zone, timestamp_with_time_zone_null,
};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000014_event_endpoints"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("event_endpoints")
                    .col(big_pk_auto("id"))
                    // Who registered it, as the audit log names them.
                    .col(string("owner"))
                    .col(text("url"))
                    .col(string("description"))
                    // The Standard Webhooks signing secret, sealed.
                    .col(text("secret"))
                    .col(boolean("enabled"))
                    // Why Herald disabled it (the receiver answered 410 Gone).
                    .col(text_null("disabled_reason"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("event_endpoint_filters")
                    .col(big_integer("endpoint_id"))
                    .col(string("event_type"))
                    // A channel kind, or `*` for every channel.
                    .col(string("channel"))
                    .primary_key(
                        Index::create()
                            .col("endpoint_id")
                            .col("event_type")
                            .col("channel"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("event_outbox")
                    .col(big_pk_auto("id"))
                    .col(big_integer("endpoint_id"))
                    .col(string("event_type"))
                    .col(big_integer("message_id"))
                    // 0 for an event about the message as a whole (a recall).
                    .col(big_integer("subscriber_id"))
                    .col(string("channel"))
                    .col(text_null("detail"))
                    .col(timestamp_with_time_zone("occurred_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("event_batches")
                    .col(big_pk_auto("id"))
                    .col(big_integer("endpoint_id"))
                    // queued | sending | delivered | dead
                    .col(string("status"))
                    .col(integer("attempts"))
                    // Due from (queued), or the end of the sender's lease (sending).
                    .col(timestamp_with_time_zone("not_before"))
                    .col(integer("event_count"))
                    // The body exactly as sent, so a retry repeats it byte for byte.
                    .col(text("payload"))
                    .col(text_null("last_error"))
                    .col(string_null("last_response"))
                    .col(timestamp_with_time_zone_null("last_attempt_at"))
                    .col(integer_null("last_attempt_ms"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("event_batches_due")
                    .table("event_batches")
                    .col("status")
                    .col("not_before")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("event_batches_endpoint")
                    .table("event_batches")
                    .col("endpoint_id")
                    .col("id")
                    .to_owned(),
            )
            .await
    }
}
