//! Cross-origin access to the inbox routes, for product pages on other origins that
//! show a subscriber's inbox with a subscriber token. Only origins in
//! `http.inbox_cors_origins` are allowed, and only on the inbox and stream routes: the
//! operator and product-service API stays same-origin. Cookies are never allowed
//! cross-origin; a subscriber token travels as `Authorization: Bearer` or `?token=`.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::{Layer, ServiceExt};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// The CORS policy of the inbox routes; `None` when no origin is allowed.
pub fn inbox_policy(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::HeaderName::from_static("last-event-id"),
            ])
            .max_age(PREFLIGHT_MAX_AGE),
    )
}

fn is_inbox_route(path: &str) -> bool {
    ["/v1/inbox", "/v1/stream/"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// Middleware: answers preflights and adds CORS headers on the inbox routes.
pub async fn inbox_cors(
    State(policy): State<Option<CorsLayer>>,
    request: Request,
    next: Next,
) -> Response {
    match policy {
        Some(policy) if is_inbox_route(request.uri().path()) => {
            match policy.layer(next).oneshot(request).await {
                Ok(response) => response.into_response(),
                Err(never) => match never {},
            }
        }
        _ => next.run(request).await,
    }
}
