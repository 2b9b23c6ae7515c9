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
