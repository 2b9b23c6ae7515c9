//! Block and allow lists.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use herald_core::entities::list_entry;
use herald_core::rules::lists::{
    self, EntryFilter, EntryIn, EntryKind, ListImportReport, ListName,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use validator::Validate;

use super::pagination::{DEFAULT_LIMIT, next_cursor, parse_cursor};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, ValidJson, ValidQuery};
use crate::state::AppState;
use crate::upload;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_entries, create_entry))
        .routes(routes!(delete_entry))
}

/// Imports stream large files: no request timeout.
pub fn imports() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_entries))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListEntryOut {
    id: i64,
    list: String,
    kind: String,
    value: String,
    channel: Option<String>,
    reason: String,
    expires_at: Option<DateTime<Utc>>,
    created_by: Option<i64>,
    created_at: DateTime<Utc>,
}

impl From<list_entry::Model> for ListEntryOut {
    fn from(m: list_entry::Model) -> Self {
        Self {
            id: m.id,
            list: m.list,
            kind: m.kind,
            value: m.value,
            channel: m.channel,
            reason: m.reason,
            expires_at: m.expires_at,
            created_by: m.created_by,
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListEntryPage {
    items: Vec<ListEntryOut>,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListEntryQuery {
    list: Option<ListName>,
    kind: Option<EntryKind>,
    /// Exact value (emails and domains compare lower-cased).
    value: Option<String>,
    cursor: Option<String>,
    /// 1 to 500 (default 50).
    #[validate(range(min = 1, max = 500))]
    limit: Option<u64>,
}

/// Block and allow entries, oldest first, with filters.
#[utoipa::path(get, path = "/v1/list-entries", tag = "rules",
    security(("session" = ["rules:read"])),
    params(ListEntryQuery),
    responses((status = 200, body = ListEntryPage), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_entries(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<ListEntryQuery>,
) -> Result<Json<ListEntryPage>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let filter = EntryFilter {
        list: query.list,
        kind: query.kind,
        value: query.value,
    };
    let rows = lists::list(
        &state.db,
        &filter,
        parse_cursor(query.cursor.as_deref())?,
        limit,
    )
    .await?;
    let next_cursor = next_cursor(&rows, limit, |r| r.id);
    Ok(Json(ListEntryPage {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// Adds a block or allow entry.
#[utoipa::path(post, path = "/v1/list-entries", tag = "rules",
    security(("session" = ["rules:write"])),
    request_body = EntryIn,
    responses((status = 201, body = ListEntryOut), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_entry(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(input): ValidJson<EntryIn>,
) -> Result<(StatusCode, Json<ListEntryOut>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(
            lists::create(&state.db, &caller.audit(), input)
                .await?
                .into(),
        ),
    ))
}

/// Removes an entry.
#[utoipa::path(delete, path = "/v1/list-entries/{id}", tag = "rules",
    security(("session" = ["rules:write"])),
    params(("id" = i64, Path, description = "Entry id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn delete_entry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    lists::delete(&state.db, &caller.audit(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Imports entries from CSV with a header: `list,kind,value` and optionally
/// `channel,reason,expires_at`. Valid rows are stored; bad rows are reported by line.
#[utoipa::path(post, path = "/v1/list-entry-imports", tag = "rules",
    security(("session" = ["rules:write"])),
    request_body(description = "CSV", content((String = "text/csv"))),
    responses((status = 200, body = ListImportReport), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn import_entries(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ListImportReport>, ApiError> {
    let (reader, guard) = upload::limited(body, &headers, state.settings.import_body_limit_bytes)?;
    let report = lists::import(&state.db, &caller.audit(), reader).await;
    Ok(Json(report.map_err(|e| guard.explain(e))?))
}
