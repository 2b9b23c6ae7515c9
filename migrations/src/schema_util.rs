//! Small helpers the migrations share.

use sea_orm_migration::prelude::*;

pub(crate) async fn index(
    manager: &SchemaManager<'_>,
    table: &str,
    columns: &[&str],
) -> Result<(), DbErr> {
    create_index(manager, table, columns, false).await
}

pub(crate) async fn unique_index(
    manager: &SchemaManager<'_>,
    table: &str,
    columns: &[&str],
) -> Result<(), DbErr> {
    create_index(manager, table, columns, true).await
}

async fn create_index(
    manager: &SchemaManager<'_>,
    table: &str,
    columns: &[&str],
    unique: bool,
) -> Result<(), DbErr> {
    let mut statement = Index::create();
    statement
        .name(format!("idx_{table}_{}", columns.join("_")))
        .table(table.to_owned());
    for column in columns {
        statement.col(String::from(*column));
    }
    if unique {
        statement.unique();
    }
    manager.create_index(statement).await
}

/// A text column matched only for exact equality (normalised emails, ids, addresses).
/// On Postgres it compares bytes (`COLLATE "C"`): batch lookups sort and search thousands
/// of values, and locale-aware comparison made that several times slower. SQLite
/// already compares bytes.
pub(crate) fn exact_text(manager: &SchemaManager<'_>, name: &'static str) -> ColumnDef {
    let mut column = sea_orm_migration::schema::string(name);
    if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
        column.extra("COLLATE \"C\"");
    }
    column
}

/// A foreign key from `table.column` to `to.id`.
pub(crate) fn fk(
    table: &str,
    column: &str,
    to: &str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table.to_owned(), column.to_owned())
        .to(to.to_owned(), "id")
        .on_delete(on_delete)
        .to_owned()
}

/// SQLite: the definition of `table` as `sqlite_schema` holds it.
pub(crate) async fn sqlite_definition(
    manager: &SchemaManager<'_>,
    table: &str,
) -> Result<String, DbErr> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    manager
        .get_connection()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?",
            [table.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::Migration(format!("no {table} table")))?
        .try_get_by_index(0)
}

/// SQLite: replaces the definition of `table` in place, for changes that do not alter
/// how its rows are stored (dropping a NOT NULL or a foreign key), as SQLite's ALTER
/// TABLE page documents; the schema version moves on so every connection reads the
/// definition again. Run it inside the migration's transaction.
pub(crate) async fn rewrite_sqlite_definition(
    manager: &SchemaManager<'_>,
    table: &str,
    edited: String,
) -> Result<(), DbErr> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
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
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = ?",
        [edited.into(), table.into()],
    ))
    .await?;
    db.execute_unprepared(&format!("PRAGMA schema_version = {}", version + 1))
        .await?;
    db.execute_unprepared("PRAGMA writable_schema = OFF")
        .await?;
    Ok(())
}
