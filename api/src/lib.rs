//! Herald's HTTP API: axum routers, authentication and authorisation, OpenAPI.
#![forbid(unsafe_code)]

mod admin_ui;
mod app;
pub mod auth;
mod cors;
pub mod error;
mod extract;
pub mod metrics;
mod openapi;
mod routes;
mod serve;
pub mod state;
mod upload;

use std::future::Future;

pub use app::{build, openapi_document};
pub use state::AppState;
use tokio::net::TcpListener;

/// Serves the API on `listener` until `shutdown` completes, then finishes the requests
/// in flight. Taking both as arguments lets tests bind port 0 and stop the server.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let closing = state.closing.clone();
    let waits = serve::ClientWaits::of(&state.settings);
    let app = build(state).map_err(std::io::Error::other)?;
    // A `Router` clone shares its routes; each connection gets one.
    serve::serve_http1(listener, app, waits, async move {
        shutdown.await;
        // Streams end (their clients reconnect elsewhere after the retry hint) so
        // the server can finish its other requests and stop.
        closing.cancel();
    })
    .await;
    Ok(())
}

/// Serves `/metrics` alone on `listener` (the `metrics.listen` address, which only
/// Prometheus should reach) until `shutdown` completes.
pub async fn serve_metrics(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let waits = serve::ClientWaits::of(&state.settings);
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(metrics::render))
        .with_state(state);
    serve::serve_http1(listener, app, waits, shutdown).await;
}
