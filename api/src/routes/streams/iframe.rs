//! The iframe stream for legacy browsers: a never-ending HTML document whose script
//! chunks hand each update to the embedding page with `parent.postMessage`.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;
use validator::Validate;

use super::feed::{Feed, Update, streamed_body};
use crate::auth::SubscriberCaller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ValidQuery;
use crate::state::AppState;

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IframeQuery {
    /// The embedding page's origin (`https://shop.example`): updates are posted to it
    /// alone.
    #[validate(
        length(min = 1, max = 255),
        custom(function = "crate::routes::streams::iframe::origin_only")
    )]
    origin: String,
    /// Resume after this inbox id; without it the stream starts with what comes next.
    last_event_id: Option<i64>,
    /// The subscriber token.
    #[allow(dead_code)] // read by the authorisation layer
    token: Option<String>,
}

pub(crate) fn origin_only(origin: &str) -> Result<(), validator::ValidationError> {
    let parsed = url::Url::parse(origin).map_err(|_| invalid_origin())?;
    let bare = matches!(parsed.scheme(), "http" | "https")
        && parsed.path() == "/"
        && parsed.query().is_none()
        && parsed.fragment().is_none()
        && !origin.ends_with('/');
    if bare { Ok(()) } else { Err(invalid_origin()) }
}

fn invalid_origin() -> validator::ValidationError {
    let mut error = validator::ValidationError::new("origin");
    error.message = Some("must be an origin such as https://shop.example".into());
    error
}

/// A chunked `text/html` document: each update (the same JSON as the WebSocket frames)
/// arrives as `<script>parent.postMessage(update, origin)</script>`.
#[utoipa::path(get, path = "/v1/stream/iframe", tag = "inbox",
    security(("subscriber_token" = [])),
    params(IframeQuery),
    responses((status = 200, content_type = "text/html", description = "The streaming document"),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody, description = "too_many_streams"),
        (status = 401, body = ErrorBody)))]
pub(super) async fn iframe(
    State(state): State<AppState>,
    subscriber: SubscriberCaller,
    ValidQuery(query): ValidQuery<IframeQuery>,
) -> Result<Response, ApiError> {
    let feed = Feed::open(&state, &subscriber, query.last_event_id, "iframe").await?;
    let origin = serde_json::to_string(&query.origin).unwrap_or_default();
    // Browsers render a streamed document only once they have a little of it.
    let opening = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"></head><body>{}\n",
        " ".repeat(1024)
    );
    let body = streamed_body(feed, opening, "<!-- -->\n", move |out, update| {
        script(out, update, &origin);
    });
    Response::builder()
        .header(CONTENT_TYPE, "text/html; charset=utf-8")
        .header(CACHE_CONTROL, "no-store")
        .body(body)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// Appends one update as a script chunk. `<` is escaped so no string in it can close
/// the tag.
fn script(out: &mut String, update: &Update, origin: &str) {
    let json = serde_json::to_string(update)
        .unwrap_or_default()
        .replace('<', "\\u003c");
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "<script>parent.postMessage({json}, {origin});</script>"
    );
}
