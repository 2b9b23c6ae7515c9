//! Assembling the HTTP application: routes, access control, docs and the middleware
//! every request passes through.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use herald_core::ErrorCode;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::access::AccessTableError;
use crate::auth::{AccessTable, authorize};
use crate::error::ApiError;
use crate::state::AppState;
use crate::{cors, metrics, openapi, routes};

/// Every documented route, with the document.
fn documented_routes(state: &AppState) -> OpenApiRouter<AppState> {
    let bounded = routes::router().route_layer(from_fn_with_state(state.clone(), request_timeout));
    OpenApiRouter::with_openapi(openapi::base())
        .merge(bounded)
        .merge(routes::long_running())
}

/// The OpenAPI document as the running server serves it.
pub fn openapi_document() -> OpenApi {
    // The document does not depend on the state; any state value builds the same one.
    let (_, mut document) = OpenApiRouter::<AppState>::with_openapi(openapi::base())
        .merge(routes::router())
        .merge(routes::long_running())
        .split_for_parts();
    openapi::document_errors(&mut document);
    openapi::describe_successes(&mut document);
    document
}

pub fn build(state: AppState) -> Result<Router, AccessTableError> {
    let (api, mut document) = documented_routes(&state).split_for_parts();
    openapi::document_errors(&mut document);
    openapi::describe_successes(&mut document);
    let cors = cors::inbox_policy(&state.settings.inbox_cors_origins);
    let table = Arc::new(AccessTable::from_openapi(&document)?);
    let api = api
        .route_layer(from_fn_with_state((state.clone(), table), authorize))
        .route_layer(from_fn_with_state(state.clone(), metrics::track));
    let router = api
        .route("/metrics", get(metrics::render_with_token))
        // The admin console; its own pages (e.g. /campaigns/12) come through the fallback.
        .route("/", get(crate::admin_ui::index))
        .route("/sdk/herald.js", get(sdk_script))
        .route("/sdk/herald.mjs", get(sdk_module))
        .route("/sdk/herald.d.ts", get(sdk_types))
        .route("/demo", get(demo))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", document))
        .fallback(|request: Request| crate::admin_ui::fallback(request, not_found))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.settings.body_limit_bytes))
        .with_state(state)
        .layer(from_fn_with_state(cors, cors::inbox_cors));
    Ok(router.layer(
        ServiceBuilder::new()
            .layer(SetSensitiveRequestHeadersLayer::new([
                axum::http::header::AUTHORIZATION,
                axum::http::header::COOKIE,
            ]))
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let request_id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id)
            }))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(CatchPanicLayer::custom(|_panic| {
                ApiError::internal("a handler panicked").into_response()
            })),
    ))
}

async fn request_timeout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit: Duration = state.settings.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(ErrorCode::Timeout, "the request took too long").into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this route does not take that method",
    )
}

/// The browser client for the inbox (`api/static/herald.js`), a classic script.
async fn sdk_script() -> impl axum::response::IntoResponse {
    sdk_file(
        "text/javascript; charset=utf-8",
        include_str!("../static/herald.js"),
    )
}

/// The client as an ES module (it imports the script beside it).
async fn sdk_module() -> impl axum::response::IntoResponse {
    sdk_file(
        "text/javascript; charset=utf-8",
        include_str!("../static/herald.mjs"),
    )
}

/// The client's TypeScript declarations.
async fn sdk_types() -> impl axum::response::IntoResponse {
    sdk_file(
        "application/typescript; charset=utf-8",
        include_str!("../static/herald.d.ts"),
    )
}

/// A file of the client: public, cached for a while, and readable from any origin (a
/// product's pages import the module from Herald's; it holds nothing private).
fn sdk_file(content_type: &'static str, body: &'static str) -> impl axum::response::IntoResponse {
    use axum::http::header;
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body,
    )
}

/// A page showing one subscriber's inbox and unread badge live, for newcomers.
async fn demo() -> axum::response::Html<&'static str> {
    axum::response::Html(include_str!("../static/demo.html"))
}
