//! Realtime inbox transports: SSE, WebSocket and the iframe stream. Each connection
//! follows the subscriber's inbox through a [`feed::Feed`].

pub(crate) mod feed;
pub(crate) mod iframe;
mod sse;
mod ws;

use std::time::Duration;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sse::sse))
        .routes(routes!(ws::ws))
        .routes(routes!(iframe::iframe))
}

/// Whether a write to a stream's client went through within `stall`. One that waits
/// longer is on a client that stopped reading: the stream is cut off rather than held,
/// with its place among the subscriber's streams, until the socket errors.
pub(crate) async fn written_within<E>(
    stall: Duration,
    write: impl Future<Output = Result<(), E>>,
) -> bool {
    matches!(tokio::time::timeout(stall, write).await, Ok(Ok(())))
}
