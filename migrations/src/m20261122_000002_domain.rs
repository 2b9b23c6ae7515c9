//! The operator's domain: templates and their versions, audiences, rules, block/allow
//! lists, the send ledger that frequency caps and dedup count, campaigns and reviews.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::schema_util::{exact_text, fk, index, unique_index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000002_domain"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("templates")
                    .col(big_pk_auto("id"))
                    .col(string_uniq("name"))
                    .col(string("description"))
                    .col(integer("latest_version"))
                    .col(big_integer_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "templates",
                        "created_by",
                        "operators",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("template_versions")
                    .col(big_pk_auto("id"))
                    .col(big_integer("template_id"))
                    .col(integer("version"))
                    .col(json_binary("content"))
                    .col(json_binary("data_keys"))
                    .col(big_integer_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk(
                        "template_versions",
                        "template_id",
                        "templates",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "template_versions",
                        "created_by",
                        "operators",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        unique_index(manager, "template_versions", &["template_id", "version"]).await?;

        manager
            .create_table(
                Table::create()
                    .table("audiences")
                    .col(big_pk_auto("id"))
                    .col(string_uniq("name"))
                    .col(string("kind"))
                    .col(json_binary_null("segment"))
                    .col(big_integer("member_count"))
                    .col(big_integer_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "audiences",
                        "created_by",
                        "operators",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("audience_members")
                    .col(big_integer("audience_id"))
                    .col(string("external_id"))
                    .primary_key(Index::create().col("audience_id").col("external_id"))
                    .foreign_key(&mut fk(
                        "audience_members",
                        "audience_id",
                        "audiences",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("rules")
                    .col(big_pk_auto("id"))
                    .col(string("name"))
                    .col(string("kind"))
                    .col(string("scope"))
                    .col(string_null("scope_value"))
                    .col(boolean("enabled"))
                    .col(json_binary("exempt_categories"))
                    .col(json_binary("params"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        index(manager, "rules", &["kind", "enabled"]).await?;

        manager
            .create_table(
                Table::create()
                    .table("list_entries")
                    .col(big_pk_auto("id"))
                    .col(string("list"))
                    .col(string("kind"))
                    .col(exact_text(manager, "value"))
                    .col(string_null("channel"))
                    .col(string("reason"))
                    .col(timestamp_with_time_zone_null("expires_at"))
                    .col(big_integer_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        index(manager, "list_entries", &["kind", "value"]).await?;

        manager
            .create_table(
                Table::create()
                    .table("send_ledger")
                    .col(big_pk_auto("id"))
                    .col(big_integer("subscriber_id"))
                    .col(string("channel"))
                    .col(string("category"))
                    .col(big_integer_null("template_id"))
                    .col(string_null("dedup_key"))
                    .col(timestamp_with_time_zone("sent_at"))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "send_ledger",
            &["subscriber_id", "channel", "sent_at"],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("campaigns")
                    .col(big_pk_auto("id"))
                    .col(string("name"))
                    .col(big_integer("template_id"))
                    .col(integer("template_version"))
                    .col(big_integer("audience_id"))
                    .col(json_binary("channels"))
                    .col(json_binary("schedule"))
                    .col(integer("priority"))
                    .col(string("category"))
                    .col(json_binary("data"))
                    .col(timestamp_with_time_zone_null("expires_at"))
                    .col(string("status"))
                    .col(big_integer_null("created_by"))
                    .col(big_integer_null("approved_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "campaigns",
                        "template_id",
                        "templates",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "campaigns",
                        "audience_id",
                        "audiences",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "campaigns",
                        "created_by",
                        "operators",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "campaigns",
                        "approved_by",
                        "operators",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "campaigns", &["status"]).await?;
        manager
            .create_table(
                Table::create()
                    .table("campaign_reviews")
                    .col(big_pk_auto("id"))
                    .col(big_integer("campaign_id"))
                    .col(string("action"))
                    .col(string("from_status"))
                    .col(string("to_status"))
                    .col(big_integer_null("actor_id"))
                    .col(string("actor_name"))
                    .col(text("comment"))
                    .col(timestamp_with_time_zone("occurred_at"))
                    .foreign_key(&mut fk(
                        "campaign_reviews",
                        "campaign_id",
                        "campaigns",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "campaign_reviews", &["campaign_id"]).await?;
        Ok(())
    }
}
