//! Realtime inbox transports: SSE, WebSocket and the iframe stream. Each connection
//! follows the subscriber's inbox through a [`feed::Feed`].

pub(crate) mod feed;
pub(crate) mod iframe;
mod sse;
mod ws;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sse::sse))
        .routes(routes!(ws::ws))
        .routes(routes!(iframe::iframe))
}
