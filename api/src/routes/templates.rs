//! Templates: named content per channel, saved as immutable versions, with previews.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use herald_core::entities::{template, template_version};
use herald_core::listing::Window;
use herald_core::templates::store::{
    self, DraftPreviewIn, NewTemplate, NewVersion, PreviewIn, TemplateSort,
};
use herald_core::templates::{RenderedContent, TemplateContent};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use validator::Validate;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, ValidJson, ValidQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates, create_template))
        .routes(routes!(get_template))
        .routes(routes!(list_versions, create_version))
        .routes(routes!(get_version))
        .routes(routes!(preview_version))
        .routes(routes!(preview_draft))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateOut {
    id: i64,
    name: String,
    description: String,
    latest_version: i32,
    created_by: Option<i64>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<template::Model> for TemplateOut {
    fn from(m: template::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            description: m.description,
            latest_version: m.latest_version,
            created_by: m.created_by,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionOut {
    template_id: i64,
    version: i32,
    content: TemplateContent,
    data_keys: Vec<String>,
    created_by: Option<i64>,
    created_at: DateTime<Utc>,
}

impl TryFrom<template_version::Model> for VersionOut {
    type Error = ApiError;

    fn try_from(m: template_version::Model) -> Result<Self, ApiError> {
        Ok(Self {
            content: store::content_of(&m)?,
            data_keys: store::data_keys_of(&m),
            template_id: m.template_id,
            version: m.version,
            created_by: m.created_by,
            created_at: m.created_at,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateDetailOut {
    template: TemplateOut,
    latest: VersionOut,
}

/// All templates, by name.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateQuery {
    /// Part of the name, any case.
    #[validate(length(min = 1, max = 200))]
    search: Option<String>,
    /// `name` (default), `newest` or `updated` (most recently changed first).
    #[param(inline)]
    sort: Option<TemplateSort>,
    /// Templates to skip (paging).
    #[validate(range(max = 1000000))]
    offset: Option<u64>,
    /// 1 to 500; without it, every template.
    #[validate(range(min = 1, max = 500))]
    limit: Option<u64>,
}

#[utoipa::path(get, path = "/v1/templates", tag = "templates",
    security(("session" = ["templates:read"])),
    params(TemplateQuery),
    responses((status = 200, body = Vec<TemplateOut>), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_templates(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<TemplateQuery>,
) -> Result<Json<Vec<TemplateOut>>, ApiError> {
    let window = Window {
        search: query.search,
        offset: query.offset.unwrap_or(0),
        limit: query.limit,
    };
    Ok(Json(
        store::list_page(&state.db, query.sort.unwrap_or_default(), &window)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Creates a template with its first version. Content is checked for syntax, unknown
/// variables (422 naming the part and line) and banned words (422 `banned_words`).
#[utoipa::path(post, path = "/v1/templates", tag = "templates",
    security(("session" = ["templates:write"])),
    request_body = NewTemplate,
    responses((status = 201, body = TemplateDetailOut), (status = 409, body = ErrorBody, description = "template_name_taken"),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_template(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(input): ValidJson<NewTemplate>,
) -> Result<(StatusCode, Json<TemplateDetailOut>), ApiError> {
    let (template, version) = store::create(&state.db, &caller.audit(), input).await?;
    Ok((
        StatusCode::CREATED,
        Json(TemplateDetailOut {
            template: template.into(),
            latest: version.try_into()?,
        }),
    ))
}

/// A template with its latest version.
#[utoipa::path(get, path = "/v1/templates/{id}", tag = "templates",
    security(("session" = ["templates:read"])),
    params(("id" = i64, Path, description = "Template id")),
    responses((status = 200, body = TemplateDetailOut), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_template(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<TemplateDetailOut>, ApiError> {
    let template = store::get(&state.db, id).await?;
    let latest = store::version(&state.db, id, template.latest_version).await?;
    Ok(Json(TemplateDetailOut {
        template: template.into(),
        latest: latest.try_into()?,
    }))
}

/// The version history, newest first.
#[utoipa::path(get, path = "/v1/templates/{id}/versions", tag = "templates",
    security(("session" = ["templates:read"])),
    params(("id" = i64, Path, description = "Template id")),
    responses((status = 200, body = Vec<VersionOut>), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_versions(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<VersionOut>>, ApiError> {
    let versions = store::versions(&state.db, id).await?;
    Ok(Json(
        versions
            .into_iter()
            .map(VersionOut::try_from)
            .collect::<Result<_, _>>()?,
    ))
}

/// Saves new content as the next version; earlier versions stay as they were.
#[utoipa::path(post, path = "/v1/templates/{id}/versions", tag = "templates",
    security(("session" = ["templates:write"])),
    params(("id" = i64, Path, description = "Template id")),
    request_body = NewVersion,
    responses((status = 201, body = VersionOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_version(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ValidJson(input): ValidJson<NewVersion>,
) -> Result<(StatusCode, Json<VersionOut>), ApiError> {
    let version = store::add_version(&state.db, &caller.audit(), id, input).await?;
    Ok((StatusCode::CREATED, Json(version.try_into()?)))
}

/// One version.
#[utoipa::path(get, path = "/v1/templates/{id}/versions/{version}", tag = "templates",
    security(("session" = ["templates:read"])),
    params(("id" = i64, Path, description = "Template id"), ("version" = i32, Path, description = "Version number")),
    responses((status = 200, body = VersionOut), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_version(
    State(state): State<AppState>,
    Path((id, number)): Path<(i64, i32)>,
) -> Result<Json<VersionOut>, ApiError> {
    Ok(Json(
        store::version(&state.db, id, number).await?.try_into()?,
    ))
}

/// Renders content that is not saved yet (an editor's draft) for a stored subscriber or
/// sample fields: the same checks as saving, without saving or sending.
#[utoipa::path(post, path = "/v1/templates/preview", tag = "templates",
    security(("session" = ["templates:read"])),
    request_body = DraftPreviewIn,
    responses((status = 200, body = RenderedContent), (status = 404, body = ErrorBody, description = "No such subscriber"),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn preview_draft(
    State(state): State<AppState>,
    ValidJson(input): ValidJson<DraftPreviewIn>,
) -> Result<Json<RenderedContent>, ApiError> {
    Ok(Json(store::preview_draft(&state.db, input).await?))
}

/// Renders a version for a stored subscriber or sample fields, without sending.
#[utoipa::path(post, path = "/v1/templates/{id}/versions/{version}/preview", tag = "templates",
    security(("session" = ["templates:read"])),
    params(("id" = i64, Path, description = "Template id"), ("version" = i32, Path, description = "Version number")),
    request_body = PreviewIn,
    responses((status = 200, body = RenderedContent), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn preview_version(
    State(state): State<AppState>,
    Path((id, number)): Path<(i64, i32)>,
    ValidJson(input): ValidJson<PreviewIn>,
) -> Result<Json<RenderedContent>, ApiError> {
    Ok(Json(store::preview(&state.db, id, number, input).await?))
}
