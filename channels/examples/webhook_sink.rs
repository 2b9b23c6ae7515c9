//! A webhook receiver for benchmarks: answers every POST with 204 and counts what it
//! received; `GET /count` tells how many. Usage: `webhook_sink PORT`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(18090);
    let received = Arc::new(AtomicU64::new(0));
    let app =
        Router::new()
            .route(
                "/count",
                get(|State(n): State<Arc<AtomicU64>>| async move {
                    n.load(Ordering::Relaxed).to_string()
                }),
            )
            .route(
                "/{*path}",
                post(|State(n): State<Arc<AtomicU64>>, _body: Bytes| async move {
                    n.fetch_add(1, Ordering::Relaxed);
                    StatusCode::NO_CONTENT
                }),
            )
            .with_state(received);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await
}
