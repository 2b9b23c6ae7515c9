//! Channel instances configured at run time: a unique name, the plugin kind, and its
//! settings as given (secrets included; the API never returns them). And the server's
//! signing keys (unsubscribe links), kept in the database so every node shares them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::schema_util::unique_index;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000003_channels"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("channel_instances")
                    .col(big_pk_auto("id"))
                    .col(string("name"))
                    .col(string("kind"))
                    .col(boolean("enabled"))
                    .col(json_binary("settings"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        unique_index(manager, "channel_instances", &["name"]).await?;
        manager
            .create_table(
                Table::create()
                    .table("signing_keys")
                    .col(string("name").primary_key())
                    .col(string("secret"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await
    }
}
