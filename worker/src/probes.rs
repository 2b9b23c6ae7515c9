//! `herald worker`'s own listener (`metrics.listen`): `/healthz` (the process
//! answers), `/readyz` (its database answers a query) and `/metrics` (the worker's
//! metrics, see [`crate::metrics`]).

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use herald_core::openmetrics;
use prometheus_client::registry::Registry;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

#[derive(Clone)]
struct Probes {
    db: DatabaseConnection,
    registry: Arc<Registry>,
}

/// Serves the probes on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    db: DatabaseConnection,
    registry: Registry,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let probes = Probes {
        db,
        registry: Arc::new(registry),
    };
    let app = Router::new()
        .route("/healthz", get(|| async { (StatusCode::OK, "ok") }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(probes);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn readyz(State(probes): State<Probes>) -> Response {
    match herald_core::db::ping(&probes.db).await {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is not reachable",
            )
                .into_response()
        }
    }
}

async fn metrics(State(probes): State<Probes>) -> Response {
    match openmetrics::render(&probes.registry) {
        Ok(text) => ([(CONTENT_TYPE, openmetrics::CONTENT_TYPE)], text).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
