//! The delivery log outlives the subscribers it names: deleting a subscriber keeps
//! their deliveries (anonymised) for the auditors and the reports, instead of letting
//! the foreign key cascade them away. Postgres dropped that key earlier (for write
//! speed); this drops it on SQLite.
//!
//! SQLite cannot drop a constraint, and rebuilding `deliveries` would cascade through
//! `delivery_attempts` when the old table is dropped. Removing a FOREIGN KEY clause does
//! not change how rows are stored, so SQLite documents an in-place edit of the table's
//! definition for exactly this (ALTER TABLE, "making other kinds of table schema
//! changes"): in one transaction, rewrite the definition in `sqlite_schema` and bump
//! the schema version so every connection reads it again.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000009_delivery_log_outlives_subscribers"
    }
}

/// The clause as SQLite stores it for the key the first migration created.
const SUBSCRIBER_KEY: &str =
    r#", FOREIGN KEY ("subscriber_id") REFERENCES "subscribers" ("id") ON DELETE CASCADE"#;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        let db = manager.get_connection();
        let version: i64 = db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA schema_version",
            ))
            .await?
            .ok_or_else(|| DbErr::Migration("SQLite has no schema version".into()))?
            .try_get_by_index(0)?;
        db.execute_unprepared("PRAGMA writable_schema = ON").await?;
        let edited = db
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "UPDATE sqlite_schema SET sql = replace(sql, ?, '') \
                 WHERE type = 'table' AND name = 'deliveries' AND instr(sql, ?) > 0",
                [SUBSCRIBER_KEY.into(), SUBSCRIBER_KEY.into()],
            ))
            .await?
            .rows_affected();
        db.execute_unprepared(&format!("PRAGMA schema_version = {}", version + 1))
            .await?;
        db.execute_unprepared("PRAGMA writable_schema = OFF")
            .await?;
        if edited != 1 {
            return Err(DbErr::Migration(
                "the deliveries table's key on subscribers was not found".into(),
            ));
        }
        Ok(())
    }
}
