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

/// An inbox item for the transports' unit tests: a title with a line break, a body
/// with quotes.
#[cfg(test)]
fn sample_item(id: i64) -> herald_core::inbox::InboxItem {
    herald_core::inbox::InboxItem {
        id,
        category: "news".to_owned(),
        title: "Sale\nnow".to_owned(),
        body: "Half \"price\"".to_owned(),
        data: serde_json::json!({ "link": "/sale" }),
        created_at: chrono::Utc::now(),
        read_at: None,
        archived_at: None,
        recalled_at: None,
    }
}
