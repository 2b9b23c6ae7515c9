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
