//! Bulk import of subscribers, streamed from the request body.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use herald_core::ErrorCode;
use herald_core::subscribers::import::{self, ImportFormat, ImportReport};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::upload;

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
            ErrorCode::UnsupportedMediaType,
            "send application/x-ndjson (one JSON object per line) or text/csv",
        )),
    }
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
    let (reader, guard) = upload::limited(body, &headers, state.settings.import_body_limit_bytes)?;
    match import::import(&state.db, &caller.audit(), format, reader).await {
        Ok(report) => Ok(Json(report)),
        Err(error) => Err(guard.explain(error)),
    }
}
