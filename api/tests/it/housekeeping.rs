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

    let purged = herald_worker::housekeeping::sweep_once(&app.db)
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
