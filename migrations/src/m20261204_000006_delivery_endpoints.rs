//! A delivery goes to one endpoint: push and webhook messages go to every enabled
//! device (endpoint) of a subscriber, one delivery each, so each device has its own
//! outcome, retries and idempotency key. `endpoint_id` is 0 for deliveries addressed
//! to the subscriber's own fields (email, inbox, MQTT's default topic) and for ones
//! decided before any endpoint was chosen (filtered, deferred). The uniqueness that
//! makes planning idempotent takes the endpoint in; 0 rather than NULL, since unique
//! indexes treat NULLs as distinct.

use sea_orm_migration::prelude::*;

use crate::schema_util::unique_index;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000006_delivery_endpoints"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("deliveries")
                    .add_column(
                        ColumnDef::new("endpoint_id")
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        unique_index(
            manager,
            "deliveries",
            &["message_id", "subscriber_id", "channel", "endpoint_id"],
        )
        .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_deliveries_message_id_subscriber_id_channel")
                    .table("deliveries")
                    .to_owned(),
            )
            .await
    }
}
