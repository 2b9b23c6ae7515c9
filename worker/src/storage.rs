//! The apalis job tables live in Herald's own database, beside the domain tables, so a
//! state change and the job it causes can be committed together.

use sea_orm::{DatabaseConnection, DbBackend};

use crate::WorkerError;

/// Creates or upgrades the job tables for the connected backend.
pub async fn setup(db: &DatabaseConnection) -> Result<(), WorkerError> {
    let failed = |e: &dyn std::fmt::Display| WorkerError::Storage(e.to_string());
    match db.get_database_backend() {
        DbBackend::Postgres => {
            apalis_postgres::PostgresStorage::<()>::setup(db.get_postgres_connection_pool())
                .await
                .map_err(|e| failed(&e))
        }
        DbBackend::Sqlite => {
            apalis_sqlite::SqliteStorage::<()>::setup(db.get_sqlite_connection_pool())
                .await
                .map_err(|e| failed(&e))
        }
        other => Err(WorkerError::Storage(format!(
            "unsupported database {other:?}"
        ))),
    }
}
