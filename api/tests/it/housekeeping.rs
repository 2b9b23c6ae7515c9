use herald_core::access::Role;
use sea_orm::ConnectionTrait;

use crate::helpers::{error_of, spawn_app};

#[tokio::test]
async fn the_worker_sweep_deletes_expired_sessions_only() {
    let app = spawn_app().await;
    let expired = app.operator(Role::Viewer).await;
    let live = app.operator(Role::Viewer).await;
    let me: serde_json::Value = expired
        .get("/v1/auth/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let backdate = format!(
        "UPDATE sessions SET expires_at = created_at WHERE operator_id = {}",
        me["id"].as_i64().unwrap()
    );
    app.db.execute_unprepared(&backdate).await.unwrap();

    let purged =
        herald_worker::housekeeping::sweep_once(&app.db, &crate::helpers::test_config().retention)
            .await
            .unwrap();
    assert_eq!(purged, 1);
    assert_eq!(
        error_of(expired.get("/v1/auth/me").send().await.unwrap(), 401).await["code"],
        "session_expired"
    );
    assert!(
        live.get("/v1/auth/me")
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
}

/// apalis keeps every finished task; the sweep deletes page tasks finished over an
/// hour ago, and leaves recent and unfinished ones.
#[tokio::test]
async fn the_worker_sweep_deletes_page_tasks_finished_over_an_hour_ago() {
    use herald_worker::pages::{PageQueue, PageTask};
    use sea_orm::DbBackend;

    let app = spawn_app().await;
    let mut queue = PageQueue::new(&app.db, &crate::helpers::test_config().delivery).unwrap();
    queue
        .push((1..=3).map(|page_id| PageTask { page_id }).collect())
        .await
        .unwrap();
    let postgres = app.db.get_database_backend() == DbBackend::Postgres;
    let finish = |page: i64, hours_ago: i64| {
        if postgres {
            format!(
                "UPDATE apalis.jobs SET status = 'Done', \
                 done_at = now() - interval '{hours_ago} hours' \
                 WHERE convert_from(job, 'UTF8') LIKE '%\"page_id\":{page}}}%'"
            )
        } else {
            format!(
                "UPDATE Jobs SET status = 'Done', \
                 done_at = strftime('%s', 'now') - {hours_ago} * 3600 \
                 WHERE CAST(job AS TEXT) LIKE '%\"page_id\":{page}}}%'"
            )
        }
    };
    for (page, hours_ago) in [(1, 2), (2, 0)] {
        let changed = app
            .db
            .execute_unprepared(&finish(page, hours_ago))
            .await
            .unwrap();
        assert_eq!(changed.rows_affected(), 1);
    }

    let removed =
        herald_worker::housekeeping::sweep_once(&app.db, &crate::helpers::test_config().retention)
            .await
            .unwrap();
    assert_eq!(removed, 1, "only the task finished two hours ago");
    let left = if postgres {
        "SELECT count(*) AS n FROM apalis.jobs"
    } else {
        "SELECT count(*) AS n FROM Jobs"
    };
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            left,
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 2);
}
