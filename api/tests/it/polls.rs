//! The worker's polling statements read through indexes. On SQLite a partial index is
//! used only when the query repeats its predicate, so a poll that forgot it read the
//! whole delivery log (or every message) every round: 200,000 rows per round after a
//! realtime benchmark, a million after a campaign of that size.

use chrono::Utc;
use herald_core::db::sqlite_plan;
use herald_core::deliveries::polls;
use sea_orm::DbBackend;

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_poll_reads_through_an_index_on_sqlite() {
    let app = spawn_app().await;
    if app.db.get_database_backend() != DbBackend::Sqlite {
        return; // Postgres proves a partial index's predicate from `status = $1`.
    }
    for (name, statement) in polls::statements(DbBackend::Sqlite, Utc::now()) {
        let plan = sqlite_plan(&app.db, statement).await.unwrap();
        // A scan of a partial index (`SCAN deliveries USING INDEX idx_deliveries_dead`)
        // reads only its rows; a bare `SCAN deliveries` reads them all.
        assert!(
            plan.iter()
                .all(|step| !step.starts_with("SCAN ") || step.contains(" INDEX ")),
            "{name} reads a whole table: {plan:?}"
        );
    }
}
