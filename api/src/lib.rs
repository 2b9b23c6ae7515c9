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
    let app = build(state).map_err(std::io::Error::other)?;
    // `into_make_service` shares the router between connections; serving the `Router`
    // itself deep-clones every route's middleware stack per connection (~200 KiB each,
    // held for as long as an SSE stream stays open).
    axum::serve(listener, app.into_make_service())
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Streams end (their clients reconnect elsewhere after the retry hint) so
            // the server can finish its other requests and stop.
            closing.cancel();
        })
        .await
}
