//! Operators, sessions, API keys, the audit log, subscribers and their endpoints
//! and preferences.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::schema_util::{index, unique_index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000001_foundation"
    }
}

fn created_updated(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    table
        .col(timestamp_with_time_zone("created_at"))
        .col(timestamp_with_time_zone("updated_at"))
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                created_updated(
                    Table::create()
                        .table("operators")
                        .col(big_pk_auto("id"))
                        .col(string_uniq("username"))
                        .col(string("display_name"))
                        .col(string("password_hash"))
                        .col(string("role"))
                        .col(boolean("disabled").default(false)),
                )
                .col(timestamp_with_time_zone_null("last_login_at"))
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("sessions")
                    .col(string("id").primary_key())
                    .col(big_integer("operator_id"))
                    .col(string("csrf_token"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("sessions", "operator_id")
                            .to("operators", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "sessions", &["expires_at"]).await?;
        index(manager, "sessions", &["operator_id"]).await?;

        manager
            .create_table(
                Table::create()
                    .table("api_keys")
                    .col(big_pk_auto("id"))
                    .col(string("name"))
                    .col(string_uniq("prefix"))
                    .col(string("secret_digest"))
                    .col(json_binary("scopes"))
                    .col(big_integer_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("expires_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .col(timestamp_with_time_zone_null("last_used_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("api_keys", "created_by")
                            .to("operators", "id")
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("audit_log")
                    .col(big_pk_auto("id"))
                    .col(timestamp_with_time_zone("occurred_at"))
                    .col(string("actor_kind"))
                    .col(string_null("actor_id"))
                    .col(string("actor_name"))
                    .col(string("action"))
                    .col(string("target_kind"))
                    .col(string_null("target_id"))
                    .col(json_binary_null("before"))
                    .col(json_binary_null("after"))
                    .col(string_null("request_id"))
                    .to_owned(),
            )
            .await?;
        index(manager, "audit_log", &["occurred_at"]).await?;
        index(manager, "audit_log", &["target_kind", "target_id"]).await?;
        index(manager, "audit_log", &["action"]).await?;
        forbid_audit_changes(manager).await?;

        manager
            .create_table(
                created_updated(
                    Table::create()
                        .table("subscribers")
                        .col(big_pk_auto("id"))
                        .col(string_uniq("external_id"))
                        .col(string_null("email"))
                        .col(string_null("phone"))
                        .col(string_null("timezone"))
                        .col(string_null("locale"))
                        .col(json_binary("tags"))
                        .col(json_binary("attributes")),
                )
                .to_owned(),
            )
            .await?;
        index(manager, "subscribers", &["timezone"]).await?;
        index(manager, "subscribers", &["email"]).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            // Tag filters use jsonb containment (`tags @> '["vip"]'`).
            manager
                .get_connection()
                .execute_unprepared(
                    "CREATE INDEX idx_subscribers_tags ON subscribers USING GIN (tags jsonb_path_ops)",
                )
                .await?;
        }

        manager
            .create_table(
                created_updated(
                    Table::create()
                        .table("subscriber_endpoints")
                        .col(big_pk_auto("id"))
                        .col(big_integer("subscriber_id"))
                        .col(string("channel"))
                        .col(string_null("provider"))
                        .col(text("address"))
                        .col(boolean("enabled").default(true))
                        .col(string_null("disabled_reason")),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("subscriber_endpoints", "subscriber_id")
                        .to("subscribers", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
            )
            .await?;
        unique_index(
            manager,
            "subscriber_endpoints",
            &["subscriber_id", "channel", "address"],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("subscriber_preferences")
                    .col(big_integer("subscriber_id"))
                    .col(string("channel"))
                    .col(string("category"))
                    .col(boolean("opted_out"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .primary_key(
                        Index::create()
                            .col("subscriber_id")
                            .col("channel")
                            .col("category"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from("subscriber_preferences", "subscriber_id")
                            .to("subscribers", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

/// The audit log is append-only at the database level too: an UPDATE or DELETE fails
/// whoever issues it.
async fn forbid_audit_changes(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let sql = match manager.get_database_backend() {
        DbBackend::Postgres => {
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
             CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
             FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();"
        }
        _ => {
            "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
             BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
             CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
             BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
        }
    };
    manager.get_connection().execute_unprepared(sql).await?;
    Ok(())
}
