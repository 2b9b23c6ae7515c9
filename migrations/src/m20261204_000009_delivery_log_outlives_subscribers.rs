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
use sea_orm_migration::sea_orm::DbBackend;

use crate::schema_util::{rewrite_sqlite_definition, sqlite_definition};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000009_delivery_log_outlives_subscribers"
    }
}

/// Where the key on subscribers starts in the table's definition, as sea-query writes it.
const SUBSCRIBER_KEY: &str = r#"FOREIGN KEY ("subscriber_id")"#;

/// `definition` without its foreign key on `subscriber_id` (the clause runs to the next
/// clause or the definition's closing parenthesis), or `None` when it has none.
fn without_subscriber_key(definition: &str) -> Option<String> {
    let start = definition.find(SUBSCRIBER_KEY)?;
    // The comma that separates it from what precedes it goes with it.
    let start = definition[..start].rfind(',')?;
    let rest = &definition[start + 1..];
    let clause_end = rest.find(", FOREIGN KEY").or_else(|| rest.rfind(')'))?;
    let end = start + 1 + rest[..clause_end].trim_end().len();
    Some(format!("{}{}", &definition[..start], &definition[end..]))
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        let definition = sqlite_definition(manager, "deliveries").await?;
        let Some(edited) = without_subscriber_key(&definition) else {
            // Nothing to drop (a database made without the key): the log already
            // outlives its subscribers.
            return Ok(());
        };
        rewrite_sqlite_definition(manager, "deliveries", edited).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::without_subscriber_key;

    #[test]
    fn only_the_key_on_subscribers_is_cut_from_the_definition() {
        let key =
            r#"FOREIGN KEY ("subscriber_id") REFERENCES "subscribers" ("id") ON DELETE CASCADE"#;
        let message_key =
            r#"FOREIGN KEY ("message_id") REFERENCES "messages" ("id") ON DELETE CASCADE"#;
        let columns = r#"CREATE TABLE "deliveries" ( "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "subscriber_id" integer NOT NULL"#;
        let expected = format!("{columns}, {message_key} )");
        // Last, as sea-query writes it; and in the middle.
        let last = format!("{columns}, {message_key}, {key} )");
        assert_eq!(
            without_subscriber_key(&last).as_deref(),
            Some(expected.as_str())
        );
        let middle = format!("{columns}, {key}, {message_key} )");
        assert_eq!(
            without_subscriber_key(&middle).as_deref(),
            Some(expected.as_str())
        );
        assert_eq!(without_subscriber_key(&expected), None);
    }
}
