//! The worker's polling statements read through indexes. On SQLite a partial index is
//! used only when the query repeats its predicate, so a poll that forgot it read the
//! whole delivery log (or every message) every round: 200,000 rows per round after a
//! realtime benchmark, a million after a campaign of that size.

use chrono::Utc;
use herald_core::deliveries::polls;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_poll_reads_through_an_index_on_sqlite() {
    let app = spawn_app().await;
    if app.db.get_database_backend() != DbBackend::Sqlite {
        return; // Postgres proves a partial index's predicate from `status = $1`.
    }
    for (name, statement) in polls::statements(DbBackend::Sqlite, Utc::now()) {
        let explain = Statement::from_sql_and_values(
            DbBackend::Sqlite,
            format!("EXPLAIN QUERY PLAN {}", statement.sql),
            statement.values.map(|values| values.0).unwrap_or_default(),
        );
        let plan: Vec<String> = app
            .db
            .query_all_raw(explain)
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get_by_index::<String>(3).unwrap())
            .collect();
        // A scan of a partial index (`SCAN deliveries USING INDEX idx_deliveries_dead`)
        // reads only its rows; a bare `SCAN deliveries` reads them all.
        assert!(
            plan.iter()
                .all(|step| !step.starts_with("SCAN ") || step.contains(" INDEX ")),
            "{name} reads a whole table: {plan:?}"
        );
    }
}
