//! Bulk import of subscribers, streamed from the request body.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use futures::TryStreamExt;
use herald_core::subscribers::import::{self, ImportFormat, ImportReport};
use tokio_util::io::StreamReader;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_subscribers))
}

fn format_of(headers: &HeaderMap) -> Result<ImportFormat, ApiError> {
    let media = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    match media {
        "application/x-ndjson" | "application/jsonl" | "application/json-lines" => {
            Ok(ImportFormat::JsonLines)
        }
        "text/csv" => Ok(ImportFormat::Csv),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send application/x-ndjson (one JSON object per line) or text/csv",
        )),
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("an import may be at most {limit} bytes; split it"),
    )
}

/// Imports subscribers from JSON lines (`application/x-ndjson`, one object with
/// `external_id` and the profile fields per line) or CSV (`text/csv`, a header row of
/// `external_id`, `email`, `phone`, `timezone`, `locale`, `tags` separated by `;`, and
/// `attributes.<key>` columns). Valid rows are stored, invalid rows are listed with
/// their line and field; an external id appearing twice takes its last row.
#[utoipa::path(post, path = "/v1/subscriber-imports", tag = "subscribers",
    security(("session" = ["subscribers:write"]), ("api_key" = ["subscribers:write"])),
    request_body(description = "JSON lines or CSV",
        content((String = "application/x-ndjson"), (String = "text/csv"))),
    responses((status = 200, body = ImportReport), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn import_subscribers(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ImportReport>, ApiError> {
    let format = format_of(&headers)?;
    let limit = state.settings.import_body_limit_bytes;
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large(limit));
    }
    // Count bytes as they stream, so a chunked upload cannot exceed the limit either.
    let exceeded = Arc::new(AtomicBool::new(false));
    let mut seen = 0usize;
    let flag = exceeded.clone();
    let stream = body
        .into_data_stream()
        .map_err(io::Error::other)
        .and_then(move |chunk| {
            seen += chunk.len();
            let result = if seen > limit {
                flag.store(true, Ordering::Relaxed);
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "upload too large",
                ))
            } else {
                Ok(chunk)
            };
            std::future::ready(result)
        });
    let reader = StreamReader::new(stream);
    match import::import(&state.db, &caller.audit(), format, reader).await {
        Ok(report) => Ok(Json(report)),
        Err(_) if exceeded.load(Ordering::Relaxed) => Err(too_large(limit)),
        Err(error) => Err(error.into()),
    }
}
