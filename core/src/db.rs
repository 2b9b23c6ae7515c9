//! Opening the database: Postgres in production, an SQLite file as the embedded default.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr,
    SqlxSqliteConnector, Statement, TransactionTrait,
};
use secrecy::ExposeSecret;

use crate::config::Config;

/// Rows an SQLite connection's thread may hand over before it waits for the task
/// reading them. sqlx's default (50) makes a query that returns a page of 1,000 rows
/// stop and wake its reader some twenty times, each a switch between the two threads;
/// a page's worth of rows goes over in one run.
const SQLITE_ROW_BUFFER: usize = 1_024;

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
        .max_connections(config.database_pool_size())
        .acquire_timeout(Duration::from_secs(config.database.acquire_timeout_secs))
        .sqlx_logging(false)
        .test_before_acquire(false)
        .map_sqlx_sqlite_opts(|opts| {
            // WAL lets readers run beside the single writer; the busy timeout makes
            // writers queue instead of failing with SQLITE_BUSY.
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .row_buffer_size(SQLITE_ROW_BUFFER)
                // Statement journals in memory: a batch's multi-row statements outgrow
                // the 64 KiB SQLite otherwise keeps in memory, and every commit then
                // closed and deleted a spilled journal file (close() alone was 5.6% of
                // the CPU of per-user sends flat out).
                .pragma("temp_store", "memory")
        });
    if let Some(idle) = config.database_ping_after_idle() {
        options.test_before_acquire_if_idle_for(idle);
    }
    Database::connect(options).await
}

/// A handle for one busy writer that runs one transaction at a time (the send queue):
/// on SQLite a connection of its own, so its page cache stays warm from one
/// transaction to the next; on Postgres, whose cache is the server's, the shared pool.
///
/// SQLite empties a connection's page cache when another connection wrote since its
/// last transaction, and sqlx lends the connection idle the longest: with two, each
/// transaction went to the one the other had just made stale, and began by reading its
/// pages from the file again.
pub async fn own_writer(db: &DatabaseConnection) -> Result<DatabaseConnection, DbErr> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(db.clone());
    }
    let shared = db.get_sqlite_connection_pool();
    // The shared pool's settings (acquire timeout, ping after idle), with one connection.
    let pool = shared
        .options()
        .clone()
        .max_connections(1)
        .min_connections(0)
        .connect_with((*shared.connect_options()).clone())
        .await
        .map_err(|error| DbErr::Conn(RuntimeErr::SqlxError(Arc::new(error))))?;
    Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

/// Answers whether the database accepts a trivial query (the readiness probe).
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

/// `time` as the databases keep it (microseconds, Postgres's precision), for a row that
/// is answered as it was built rather than read back: a later read shows the same time.
pub fn as_stored(time: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    chrono::SubsecRound::trunc_subsecs(time, 6)
}

/// SQLite's plan for `statement`, a line per step (`EXPLAIN QUERY PLAN`'s detail), to
/// show that a query reads through an index.
pub async fn sqlite_plan(
    conn: &impl ConnectionTrait,
    mut statement: Statement,
) -> Result<Vec<String>, DbErr> {
    statement.sql = format!("EXPLAIN QUERY PLAN {}", statement.sql);
    conn.query_all_raw(statement)
        .await?
        .iter()
        .map(|row| row.try_get_by_index::<String>(3))
        .collect()
}

pub fn is_postgres(db: &impl ConnectionTrait) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

/// `column IN (values)` for batch queries, as one parameter whatever the number of
/// values: an array on Postgres (`= ANY($1)`), a JSON array read by `json_each` on
/// SQLite. A batch of thousands is one bind, and the statement's text stays the same
/// from batch to batch, so it is prepared once and its plan reused (a list of
/// placeholders was a new statement for each batch size).
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
    use sea_orm::sea_query::{Expr, ExprTrait, extension::postgres::PgFunc, value};
    if is_postgres(conn) {
        Expr::col(column).eq(PgFunc::any(Expr::val(sea_orm::Value::from(values))))
    } else {
        let array: Vec<serde_json::Value> = values
            .into_iter()
            .map(|v| value::sea_value_to_json_value(&v.into()))
            .collect();
        Expr::cust_with_exprs(
            "? IN (SELECT value FROM json_each(?))",
            [
                Expr::col(column),
                Expr::val(serde_json::Value::Array(array).to_string()),
            ],
        )
    }
}

/// `column IN (ids)` for a batch of subscriber ids. Batches are usually pages of an
/// audience in id order, so most are dense: then the id range itself is the cheapest
/// filter (one index range scan instead of a descent per id), and the caller ignores
/// rows of ids between them that are not in the batch. Sparse batches name their ids.
pub fn ids_in(
    conn: &impl ConnectionTrait,
    column: impl sea_orm::sea_query::IntoColumnRef,
    ids: &[i64],
) -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::{Expr, ExprTrait};
    let (Some(low), Some(high)) = (ids.iter().min(), ids.iter().max()) else {
        return Expr::val(false);
    };
    let span = high.saturating_sub(*low).saturating_add(1);
    if span <= 2 * ids.len() as i64 {
        Expr::col(column).between(*low, *high)
    } else {
        one_of(conn, column, ids.to_vec())
    }
}

/// Inside a transaction on Postgres, plans every statement generically for the rest of
/// it. Batch queries bind thousands of ids as one array: a custom plan estimates each
/// element separately (milliseconds of planning) and, pricing one index descent per
/// element, prefers a full table scan; the generic plan reads the index. No-op on SQLite.
pub async fn prefer_generic_plans(txn: &impl ConnectionTrait) -> Result<(), DbErr> {
    if is_postgres(txn) {
        txn.execute_unprepared("SET LOCAL plan_cache_mode = force_generic_plan")
            .await?;
    }
    Ok(())
}

/// Begins a transaction that writes, holding SQLite's write lock from the start (see
/// `lock_writes`): a transaction that read first and wrote later would otherwise fail
/// with "database is locked" whenever another connection (a sending worker) committed
/// in between, however long the busy timeout.
pub async fn begin_write<C>(conn: &C) -> Result<C::Transaction, DbErr>
where
    C: TransactionTrait,
    C::Transaction: ConnectionTrait,
{
    let txn = conn.begin().await?;
    lock_writes(&txn).await?;
    Ok(txn)
}

/// SQLite: takes the database's write lock before a transaction reads anything, so
/// what it reads stays current until it commits and its first write cannot fail with
/// "database is locked" (an UPDATE takes the lock even when it matches no row). Call it
/// first in transactions that read, then write. Postgres: nothing (row locks do this).
async fn lock_writes(txn: &impl ConnectionTrait) -> Result<(), DbErr> {
    if !is_postgres(txn) {
        // A statement, not an unprepared string: prepared once per connection.
        txn.execute_raw(Statement::from_string(
            DbBackend::Sqlite,
            "UPDATE signing_keys SET name = name WHERE 0 = 1",
        ))
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::{Alias, Query};
    use sea_orm::{ConnectOptions, Database};

    use super::*;

    #[tokio::test]
    async fn a_writer_of_its_own_writes_to_the_same_sqlite_file_while_the_pool_is_busy() {
        let file = std::env::temp_dir().join(format!(
            "herald-own-writer-{}-{}.db",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        let mut options = ConnectOptions::new(format!("sqlite://{}?mode=rwc", file.display()));
        options
            .max_connections(1)
            .acquire_timeout(Duration::from_millis(500))
            .sqlx_logging(false);
        let db = Database::connect(options).await.unwrap();
        db.execute_unprepared("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
            .await
            .unwrap();
        let writer = own_writer(&db).await.unwrap();
        let writer_pool = writer.get_sqlite_connection_pool().options();
        assert_eq!(writer_pool.get_max_connections(), 1);
        assert_eq!(
            writer_pool.get_acquire_timeout(),
            Duration::from_millis(500),
            "the writer keeps the shared pool's acquire timeout"
        );

        // The pool's one connection is taken: a write through the pool would wait for
        // it and give up after the acquire timeout.
        let reading = db.begin().await.unwrap();
        writer
            .execute_unprepared("INSERT INTO notes (body) VALUES ('hello')")
            .await
            .expect("the writer has a connection of its own");
        reading.rollback().await.unwrap();

        let count = db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT COUNT(*) AS n FROM notes",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        assert_eq!(count, 1, "the same database file");
        db.close().await.unwrap();
        writer.close().await.unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }

    /// An in-memory SQLite database on one connection, with `schema` run in it.
    async fn memory_db(schema: &str) -> DatabaseConnection {
        let mut options = ConnectOptions::new("sqlite::memory:");
        options.max_connections(1).sqlx_logging(false);
        let db = Database::connect(options).await.unwrap();
        db.execute_unprepared(schema).await.unwrap();
        db
    }

    /// SQLite plans without looking at bound values (`SQLITE_ENABLE_QPSG`, set for the
    /// bundled library in `.cargo/config.toml`), so a cached statement is never planned
    /// again because a value was bound anew (every `LIMIT ?` was, on each run). The
    /// price: a bound value cannot select a partial index, which only a query that
    /// spells out the index's predicate reaches.
    #[tokio::test]
    async fn sqlite_plans_do_not_depend_on_bound_values() {
        let db = memory_db(
            "CREATE TABLE letters (id INTEGER PRIMARY KEY, status TEXT NOT NULL);
             CREATE INDEX letters_dead ON letters (id) WHERE status = 'dead';",
        )
        .await;
        let plan_of = |sql: &str| {
            sqlite_plan(
                &db,
                Statement::from_sql_and_values(DbBackend::Sqlite, sql, ["dead".into()]),
            )
        };
        let bound = plan_of("SELECT id FROM letters WHERE status = ?")
            .await
            .unwrap();
        assert!(
            !bound.iter().any(|step| step.contains("letters_dead")),
            "the bound 'dead' chose the partial index, so the plan depends on it: {bound:?}"
        );
        let spelled = plan_of("SELECT id FROM letters WHERE status = 'dead' AND status = ?")
            .await
            .unwrap();
        assert!(
            spelled.iter().any(|step| step.contains("letters_dead")),
            "{spelled:?}"
        );
    }

    #[tokio::test]
    async fn a_batch_filter_on_sqlite_is_one_statement_text_that_reads_the_index() {
        let db = memory_db(
            "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
             INSERT INTO people (name) VALUES ('a'), ('b'), ('c'), ('d');",
        )
        .await;
        let named = |names: &[&str]| {
            let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
            db.get_database_backend().build(
                Query::select()
                    .column(Alias::new("id"))
                    .from(Alias::new("people"))
                    .and_where(one_of(&db, Alias::new("name"), names)),
            )
        };
        let (two, three) = (named(&["a", "c"]), named(&["a", "b", "zz"]));
        assert_eq!(two.sql, three.sql, "the text does not depend on the count");
        assert_eq!(three.values.as_ref().map(|v| v.0.len()), Some(1));
        for (statement, expected) in [(two.clone(), 2), (three, 2)] {
            let rows = db.query_all_raw(statement).await.unwrap();
            assert_eq!(rows.len(), expected);
        }
        let details = sqlite_plan(&db, two).await.unwrap();
        assert!(
            details
                .iter()
                .any(|d| d.contains("USING") && d.contains("INDEX")),
            "{details:?}"
        );
    }
}
