//! The in-app inbox: one item per inbox delivery, with ids that only grow (the SSE event
//! id and the replay cursor), and per subscriber the unread count with a version that
//! moves on every change, written in the same transaction as the change itself.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::schema_util::{fk, index, unique_index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000006_inbox"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("inbox_items")
                    .col(big_pk_auto("id"))
                    .col(big_integer("subscriber_id"))
                    .col(big_integer_null("delivery_id"))
                    .col(string("category"))
                    .col(string("title"))
                    .col(text("body"))
                    .col(json_binary("data"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("received_at"))
                    .col(timestamp_with_time_zone_null("displayed_at"))
                    .col(timestamp_with_time_zone_null("read_at"))
                    .col(timestamp_with_time_zone_null("archived_at"))
                    .foreign_key(&mut fk(
                        "inbox_items",
                        "subscriber_id",
                        "subscribers",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "inbox_items", &["subscriber_id", "id"]).await?;
        unique_index(manager, "inbox_items", &["delivery_id"]).await?;
        manager
            .create_table(
                Table::create()
                    .table("inbox_states")
                    .col(big_integer("subscriber_id").primary_key())
                    .col(big_integer("unread"))
                    .col(big_integer("version"))
                    .foreign_key(&mut fk(
                        "inbox_states",
                        "subscriber_id",
                        "subscribers",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("inbox_states").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("inbox_items").to_owned())
            .await
    }
}
