//! Opening the database: Postgres in production, an SQLite file as the embedded default.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};
use secrecy::ExposeSecret;

use crate::config::Config;

/// Connects to the configured database, creating the embedded SQLite folder if needed.
pub async fn connect(config: &Config) -> Result<DatabaseConnection, DbErr> {
    if config.uses_embedded_database() {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            DbErr::Custom(format!(
                "cannot create data_dir {}: {e}",
                config.data_dir.display()
            ))
        })?;
    }
    let url = config.effective_database_url();
    let mut options = ConnectOptions::new(url.expose_secret().to_owned());
    options
        .max_connections(config.database.max_connections)
        .acquire_timeout(Duration::from_secs(config.database.acquire_timeout_secs))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            // WAL lets readers run beside the single writer; the busy timeout makes
            // writers queue instead of failing with SQLITE_BUSY.
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    Database::connect(options).await
}

/// Answers whether the database accepts a trivial query (the readiness probe).
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

pub fn is_postgres(db: &impl ConnectionTrait) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

/// `column IN (values)` for batch queries: one array parameter on Postgres
/// (`= ANY($1)`), so a batch of thousands is one bind and one plan; a parameter list on
/// SQLite, whose limit (32,766) is above any batch Herald builds.
pub fn one_of<T>(
    conn: &impl ConnectionTrait,
    column: impl sea_orm::sea_query::IntoColumnRef,
    values: Vec<T>,
) -> sea_orm::sea_query::SimpleExpr
where
    T: Into<sea_orm::Value>
        + sea_orm::sea_query::ValueType
        + sea_orm::sea_query::value::postgres_array::NotU8,
{
    use sea_orm::sea_query::{Expr, ExprTrait, extension::postgres::PgFunc};
    if is_postgres(conn) {
        Expr::col(column).eq(PgFunc::any(Expr::val(sea_orm::Value::from(values))))
    } else {
        Expr::col(column).is_in(values)
    }
}
