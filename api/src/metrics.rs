//! Prometheus metrics, owned by the application state (no process-wide registry, so
//! tests running several servers in one process do not share counters).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use herald_core::ErrorCode;
use herald_core::openmetrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use secrecy::ExposeSecret;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
    /// The error code of an error answer; empty otherwise.
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    /// `memory` (carried by the bus) or `database` (read by the stream).
    source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportLabels {
    /// `sse`, `websocket` or `iframe`.
    transport: &'static str,
}

/// What the inbox streams of this process send, and how often they read the database
/// to do it: live items should come from memory, whichever node stored them.
#[derive(Clone, Debug)]
pub struct StreamCounters {
    items: Family<SourceLabels, Counter>,
    /// The family's two series, held so that counting looks nothing up: a broadcast
    /// counts once per connection.
    from_memory: Counter,
    from_database: Counter,
    reads: Counter,
    open: Family<TransportLabels, Gauge>,
}

impl Default for StreamCounters {
    /// Every series exists from the start at zero, so dashboards and rates see it
    /// before the first stream.
    fn default() -> Self {
        let items: Family<SourceLabels, Counter> = Family::default();
        let series = |source| items.get_or_create(&SourceLabels { source }).clone();
        let (from_memory, from_database) = (series("memory"), series("database"));
        let counters = Self {
            items,
            from_memory,
            from_database,
            reads: Counter::default(),
            open: Family::default(),
        };
        for transport in ["sse", "websocket", "iframe"] {
            let _zero = counters.open.get_or_create(&TransportLabels { transport });
        }
        counters
    }
}

/// One open stream, counted while it lives.
#[derive(Debug)]
pub struct OpenStream(Gauge);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl StreamCounters {
    /// Counts a stream over `transport` as open until the answer is dropped.
    pub fn opened(&self, transport: &'static str) -> OpenStream {
        let gauge = self
            .open
            .get_or_create(&TransportLabels { transport })
            .clone();
        gauge.inc();
        OpenStream(gauge)
    }

    /// Items a stream sent straight from a bus signal.
    pub fn from_memory(&self, items: usize) {
        self.from_memory.inc_by(items as u64);
    }

    /// A stream read the database (opening, resuming, or a signal it could not use),
    /// finding `items`.
    pub fn from_database(&self, items: usize) {
        self.reads.inc();
        self.from_database.inc_by(items as u64);
    }
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RequestLabels, Histogram>,
    pub streams: StreamCounters,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("herald");
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 14))
        });
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            durations.clone(),
        );
        let streams = StreamCounters::default();
        registry.register(
            "inbox_stream_items",
            "Inbox items sent on streams, by where the stream took them from",
            streams.items.clone(),
        );
        registry.register(
            "inbox_stream_reads",
            "Database reads made by inbox streams",
            streams.reads.clone(),
        );
        registry.register(
            "inbox_streams_open",
            "Inbox streams open on this node, by transport",
            streams.open.clone(),
        );
        Self {
            registry,
            requests,
            durations,
            streams,
        }
    }

    /// Adds metrics kept elsewhere in the process (the worker's, in `herald serve`).
    pub fn register(&mut self, add: impl FnOnce(&mut Registry)) {
        add(&mut self.registry);
    }

    fn observe(&self, labels: RequestLabels, seconds: f64) {
        self.requests.get_or_create(&labels).inc();
        self.durations.get_or_create(&labels).observe(seconds);
    }

    pub fn render(&self) -> Result<String, std::fmt::Error> {
        openmetrics::render(&self.registry)
    }
}

/// Counts and times every request by its route template (not its raw path, which would
/// make one series per subscriber), its status and, for errors, its code.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let labels = RequestLabels {
        method,
        route,
        status: response.status().as_u16(),
        code: response
            .extensions()
            .get::<ErrorCode>()
            .map_or("", |code| code.as_str()),
    };
    state
        .metrics
        .observe(labels, started.elapsed().as_secs_f64());
    response
}

/// `/metrics` on the API port: only with the configured bearer token, and not at all
/// when none is configured (then it answers like any unknown route).
pub async fn render_with_token(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let expected = state.settings.metrics_token.expose_secret();
    if expected.is_empty() {
        return Err(ApiError::new(ErrorCode::NotFound, "no such route"));
    }
    let given = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !herald_core::secrets::constant_time_eq(given, expected) {
        return Err(ApiError::unauthenticated(
            ErrorCode::Unauthenticated,
            "metrics need `Authorization: Bearer <metrics.token>`",
        ));
    }
    render(State(state)).await
}

/// `/metrics` on the separate metrics listener, which only Prometheus reaches.
pub async fn render(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = state.metrics.render().map_err(ApiError::internal)?;
    Ok(([(CONTENT_TYPE, openmetrics::CONTENT_TYPE)], text).into_response())
}
