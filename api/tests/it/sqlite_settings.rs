//! The embedded database's connections, pooled and the send queue's own, carry the
//! settings Herald relies on.

use herald_core::db::own_writer;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::helpers::spawn_app;

async fn pragma(db: &DatabaseConnection, name: &str) -> String {
    let statement = Statement::from_string(DbBackend::Sqlite, format!("PRAGMA {name}"));
    let row = db.query_one_raw(statement).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0)
        .map(|number| number.to_string())
        .or_else(|_| row.try_get_by_index::<String>(0))
        .unwrap()
}

#[tokio::test]
async fn sqlite_connections_journal_ahead_and_keep_temporary_data_in_memory() {
    let app = spawn_app().await;
    if app.db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    let writer = own_writer(&app.db).await.unwrap();
    for db in [&app.db, &writer] {
        assert_eq!(pragma(db, "journal_mode").await, "wal");
        assert_eq!(pragma(db, "foreign_keys").await, "1");
        // 2 = memory: statement journals of large batches never become files.
        assert_eq!(pragma(db, "temp_store").await, "2");
    }
}
