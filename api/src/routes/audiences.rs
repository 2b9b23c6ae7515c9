//! Audiences: who a campaign goes to, with live counts and samples.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use herald_core::audiences::members::{self, MembersReport};
use herald_core::audiences::store::{self, condition_for, count_matching, page_matching};
use herald_core::audiences::{AudienceIn, Segment};
use herald_core::entities::audience;
use herald_core::listing::NameSort;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use validator::Validate;

use super::pagination::ListQuery;
use super::subscribers::SubscriberOut;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, ValidJson, ValidQuery};
use crate::state::AppState;
use crate::upload;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audiences, create_audience))
        .routes(routes!(get_audience, delete_audience))
        .routes(routes!(audience_count))
        .routes(routes!(audience_sample))
        .routes(routes!(preview_segment))
}

/// Member uploads stream large files: no request timeout.
pub fn uploads() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upload_members))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AudienceOut {
    id: i64,
    name: String,
    /// `all`, `list`, `file` or `segment`.
    kind: String,
    segment: Option<Segment>,
    member_count: i64,
    created_by: Option<i64>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<audience::Model> for AudienceOut {
    type Error = ApiError;

    fn try_from(m: audience::Model) -> Result<Self, ApiError> {
        Ok(Self {
            segment: store::segment_of(&m)?,
            id: m.id,
            name: m.name,
            kind: m.kind,
            member_count: m.member_count,
            created_by: m.created_by,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountOut {
    count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentPreviewOut {
    count: u64,
    sample: Vec<SubscriberOut>,
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SampleQuery {
    /// 1 to 100 (default 20).
    #[validate(range(min = 1, max = 100))]
    limit: Option<u64>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentPreviewIn {
    segment: Segment,
    /// Subscribers to return, 0 to 100 (default 20).
    #[validate(range(max = 100))]
    sample: Option<u64>,
}

/// Audiences whose name contains `search`; by name unless `sort` says otherwise.
#[utoipa::path(get, path = "/v1/audiences", tag = "audiences",
    security(("session" = ["audiences:read"])),
    params(ListQuery),
    responses((status = 200, body = Vec<AudienceOut>), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_audiences(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<ListQuery>,
) -> Result<Json<Vec<AudienceOut>>, ApiError> {
    let (sort, window) = query.split(NameSort::Name);
    let all = store::list(&state.db, sort, &window).await?;
    Ok(Json(
        all.into_iter()
            .map(AudienceOut::try_from)
            .collect::<Result<_, _>>()?,
    ))
}

/// Creates an audience: everyone, a list of ids, a file to upload, or a segment.
#[utoipa::path(post, path = "/v1/audiences", tag = "audiences",
    security(("session" = ["audiences:write"])),
    request_body = AudienceIn,
    responses((status = 201, body = AudienceOut), (status = 409, body = ErrorBody, description = "audience_name_taken"),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_audience(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(input): ValidJson<AudienceIn>,
) -> Result<(StatusCode, Json<AudienceOut>), ApiError> {
    let created = store::create(&state.db, &caller.audit(), input).await?;
    Ok((StatusCode::CREATED, Json(created.try_into()?)))
}

/// One audience.
#[utoipa::path(get, path = "/v1/audiences/{id}", tag = "audiences",
    security(("session" = ["audiences:read"])),
    params(("id" = i64, Path, description = "Audience id")),
    responses((status = 200, body = AudienceOut), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_audience(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<AudienceOut>, ApiError> {
    Ok(Json(store::get(&state.db, id).await?.try_into()?))
}

/// Deletes an audience no campaign uses.
#[utoipa::path(delete, path = "/v1/audiences/{id}", tag = "audiences",
    security(("session" = ["audiences:write"])),
    params(("id" = i64, Path, description = "Audience id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`in_use`: campaigns use it (they are named)"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn delete_audience(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    store::delete(&state.db, &caller.audit(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How many subscribers the audience selects now.
#[utoipa::path(get, path = "/v1/audiences/{id}/count", tag = "audiences",
    security(("session" = ["audiences:read"])),
    params(("id" = i64, Path, description = "Audience id")),
    responses((status = 200, body = CountOut), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn audience_count(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<CountOut>, ApiError> {
    let audience = store::get(&state.db, id).await?;
    let count = count_matching(&state.db, condition_for(&state.db, &audience)?).await?;
    Ok(Json(CountOut { count }))
}

/// The first subscribers the audience selects.
#[utoipa::path(get, path = "/v1/audiences/{id}/sample", tag = "audiences",
    security(("session" = ["audiences:read"])),
    params(("id" = i64, Path, description = "Audience id"), SampleQuery),
    responses((status = 200, body = Vec<SubscriberOut>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn audience_sample(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    ValidQuery(query): ValidQuery<SampleQuery>,
) -> Result<Json<Vec<SubscriberOut>>, ApiError> {
    let audience = store::get(&state.db, id).await?;
    let rows = page_matching(
        &state.db,
        condition_for(&state.db, &audience)?,
        None,
        query.limit.unwrap_or(20),
    )
    .await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

/// Counts and samples a segment before it is saved (the segment builder's live count).
#[utoipa::path(post, path = "/v1/segments/preview", tag = "audiences",
    security(("session" = ["audiences:read"])),
    request_body = SegmentPreviewIn,
    responses((status = 200, body = SegmentPreviewOut), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn preview_segment(
    State(state): State<AppState>,
    ValidJson(input): ValidJson<SegmentPreviewIn>,
) -> Result<Json<SegmentPreviewOut>, ApiError> {
    let (count, sample) =
        store::preview_segment(&state.db, &input.segment, input.sample.unwrap_or(20)).await?;
    Ok(Json(SegmentPreviewOut {
        count,
        sample: sample.into_iter().map(Into::into).collect(),
    }))
}

/// Adds external ids to a list or file audience: one per line, or CSV with the id in the
/// first column (an `external_id` header line is skipped). Streamed.
#[utoipa::path(post, path = "/v1/audiences/{id}/members", tag = "audiences",
    security(("session" = ["audiences:write"])),
    params(("id" = i64, Path, description = "Audience id")),
    request_body(description = "External ids, one per line", content((String = "text/plain"), (String = "text/csv"))),
    responses((status = 200, body = MembersReport), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "audience_not_a_list"),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn upload_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<MembersReport>, ApiError> {
    let (reader, guard) = upload::limited(body, &headers, state.settings.import_body_limit_bytes)?;
    let report = members::upload(&state.db, &caller.audit(), id, reader).await;
    Ok(Json(report.map_err(|e| guard.explain(e))?))
}
