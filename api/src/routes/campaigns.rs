//! Campaigns and their review: create and edit (editors), submit, approve or reject
//! (reviewers who neither edited nor submitted it), schedule, pause, resume, cancel.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use herald_core::campaigns::progress::{CampaignProgress, progress};
use herald_core::campaigns::simulate::{SimulateIn, Simulation, simulate};
use herald_core::campaigns::store::{self, CampaignIn, CampaignSort, Schedule};
use herald_core::campaigns::{Action, Status};
use herald_core::channel::ChannelKind;
use herald_core::entities::{campaign, campaign_review};
use herald_core::listing::Window;
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
        .routes(routes!(list_campaigns, create_campaign))
        .routes(routes!(get_campaign, update_campaign))
        .routes(routes!(campaign_history))
        .routes(routes!(simulate_campaign))
        .routes(routes!(campaign_progress))
        .routes(routes!(submit))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(schedule))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(cancel))
        .routes(routes!(recall_campaign))
}

/// Recalls a campaign: cancels it if it is still to send, then withdraws its message
/// from every inbox it reached (see `POST /v1/messages/{id}/recall`). Audited.
#[utoipa::path(post, path = "/v1/campaigns/{id}/recall", tag = "campaigns",
    security(("session" = ["campaigns:write"])),
    params(("id" = i64, Path, description = "Campaign id")),
    responses((status = 200, body = herald_core::messages::RecallOut, description = "What the recall withdrew, cancelled, and could not reach"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn recall_campaign(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<herald_core::messages::RecallOut>, ApiError> {
    Ok(Json(
        herald_core::messages::recall_campaign(&state.db, &state.bus, &caller.audit(), id).await?,
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignOut {
    id: i64,
    name: String,
    template_id: i64,
    template_version: i32,
    audience_id: i64,
    channels: Vec<ChannelKind>,
    /// The channel instances it goes through, by name (one per kind); empty: the first
    /// enabled instance of each kind.
    instances: Vec<String>,
    schedule: Option<Schedule>,
    priority: i32,
    category: String,
    #[schema(value_type = Object)]
    data: serde_json::Value,
    expires_at: Option<DateTime<Utc>>,
    status: String,
    created_by: Option<i64>,
    approved_by: Option<i64>,
    /// SHA-256 (hex) of what the approval covers: the campaign's settings (template
    /// version, channels, schedule, category, priority, data, expiry), the template
    /// version's content and the audience's definition. Absent while not approved.
    ///
    /// A list or file audience is frozen at approval: the campaign goes to the
    /// subscribers its ids named then, and ids added later are not sent to. A segment or
    /// `all` audience is a filter evaluated when the campaign is sent, by definition: the
    /// approval covers the filter, not who matches it at send time.
    ///
    /// Any change after approval returns the campaign to draft: an edit at once, a change
    /// to what it points at when it is scheduled or started (409 `approval_invalidated`).
    approved_hash: Option<String>,
    approved_at: Option<DateTime<Utc>>,
    /// When its message was withdrawn from the inboxes it reached
    /// (`POST /v1/campaigns/{id}/recall`).
    recalled_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<campaign::Model> for CampaignOut {
    fn from(m: campaign::Model) -> Self {
        Self {
            channels: serde_json::from_value(m.channels).unwrap_or_default(),
            instances: m
                .instances
                .and_then(|i| serde_json::from_value(i).ok())
                .unwrap_or_default(),
            schedule: serde_json::from_value(m.schedule).ok(),
            id: m.id,
            name: m.name,
            template_id: m.template_id,
            template_version: m.template_version,
            audience_id: m.audience_id,
            priority: m.priority,
            category: m.category,
            data: m.data,
            expires_at: m.expires_at,
            status: m.status,
            created_by: m.created_by,
            approved_by: m.approved_by,
            approved_hash: m.approved_hash,
            approved_at: m.approved_at,
            recalled_at: m.recalled_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepOut {
    action: String,
    from_status: String,
    to_status: String,
    actor_id: Option<i64>,
    actor_name: String,
    comment: String,
    occurred_at: DateTime<Utc>,
}

impl From<campaign_review::Model> for StepOut {
    fn from(m: campaign_review::Model) -> Self {
        Self {
            action: m.action,
            from_status: m.from_status,
            to_status: m.to_status,
            actor_id: m.actor_id,
            actor_name: m.actor_name,
            comment: m.comment,
            occurred_at: m.occurred_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepIn {
    /// Why (required to reject).
    #[validate(length(max = 2000))]
    #[serde(default)]
    comment: String,
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignQuery {
    status: Option<Status>,
    /// Part of the name, any case.
    #[validate(length(min = 1, max = 200))]
    search: Option<String>,
    /// `newest` (default), `oldest`, `name` or `status`.
    #[param(inline)]
    sort: Option<CampaignSort>,
    /// Campaigns to skip (paging).
    #[validate(range(max = 1000000))]
    offset: Option<u64>,
    /// 1 to 500; without it, every campaign.
    #[validate(range(min = 1, max = 500))]
    limit: Option<u64>,
}

/// Campaigns, newest first unless sorted otherwise; searched by name and paged with
/// `offset` and `limit`.
#[utoipa::path(get, path = "/v1/campaigns", tag = "campaigns",
    security(("session" = ["campaigns:read"])),
    params(CampaignQuery),
    responses((status = 200, body = Vec<CampaignOut>), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_campaigns(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<CampaignQuery>,
) -> Result<Json<Vec<CampaignOut>>, ApiError> {
    Ok(Json(
        store::list_page(
            &state.db,
            query.status,
            query.sort.unwrap_or_default(),
            &Window {
                search: query.search,
                offset: query.offset.unwrap_or(0),
                limit: query.limit,
            },
        )
        .await?
        .into_iter()
        .map(Into::into)
        .collect(),
    ))
}

/// Creates a draft campaign.
#[utoipa::path(post, path = "/v1/campaigns", tag = "campaigns",
    security(("session" = ["campaigns:write"])),
    request_body = CampaignIn,
    responses((status = 201, body = CampaignOut), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_campaign(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(input): ValidJson<CampaignIn>,
) -> Result<(StatusCode, Json<CampaignOut>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(
            store::create(&state.db, &caller.audit(), input)
                .await?
                .into(),
        ),
    ))
}

/// One campaign.
#[utoipa::path(get, path = "/v1/campaigns/{id}", tag = "campaigns",
    security(("session" = ["campaigns:read"])),
    params(("id" = i64, Path, description = "Campaign id")),
    responses((status = 200, body = CampaignOut), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_campaign(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<CampaignOut>, ApiError> {
    Ok(Json(store::get(&state.db, id).await?.into()))
}

/// Replaces a campaign's settings. A campaign in review or approved returns to draft.
#[utoipa::path(put, path = "/v1/campaigns/{id}", tag = "campaigns",
    security(("session" = ["campaigns:write"])),
    params(("id" = i64, Path, description = "Campaign id")),
    request_body = CampaignIn,
    responses((status = 200, body = CampaignOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "invalid_transition"),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn update_campaign(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ValidJson(input): ValidJson<CampaignIn>,
) -> Result<Json<CampaignOut>, ApiError> {
    Ok(Json(
        store::update(&state.db, &caller.audit(), id, input)
            .await?
            .into(),
    ))
}

/// Runs the rules engine over the campaign's audience without sending anything: how many
/// deliveries would go out, be filtered (per rule) or be deferred (per rule and hour), with
/// example decisions and their reasons.
#[utoipa::path(post, path = "/v1/campaigns/{id}/simulate", tag = "campaigns",
    security(("session" = ["campaigns:read"])),
    params(("id" = i64, Path, description = "Campaign id")),
    request_body = SimulateIn,
    responses((status = 200, body = Simulation), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn simulate_campaign(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    ValidJson(input): ValidJson<SimulateIn>,
) -> Result<Json<Simulation>, ApiError> {
    Ok(Json(simulate(&state.db, id, input).await?))
}

/// Live counters: deliveries targeted so far and where they stand (queued, deferred,
/// sending, sent, delivered, filtered, failed, dead, expired, cancelled), per channel,
/// with filtered deliveries broken down by check and rule.
#[utoipa::path(get, path = "/v1/campaigns/{id}/progress", tag = "campaigns",
    security(("session" = ["campaigns:read"])),
    params(("id" = i64, Path, description = "Campaign id")),
    responses((status = 200, body = CampaignProgress), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn campaign_progress(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<CampaignProgress>, ApiError> {
    Ok(Json(progress(&state.db, id).await?))
}

/// Every step of the campaign's life: who did what, from which state to which, and why.
#[utoipa::path(get, path = "/v1/campaigns/{id}/history", tag = "campaigns",
    security(("session" = ["campaigns:read"])),
    params(("id" = i64, Path, description = "Campaign id")),
    responses((status = 200, body = Vec<StepOut>), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn campaign_history(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<StepOut>>, ApiError> {
    Ok(Json(
        store::history(&state.db, id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

async fn step(
    state: &AppState,
    caller: &Caller,
    id: i64,
    action: Action,
    input: StepIn,
) -> Result<Json<CampaignOut>, ApiError> {
    Ok(Json(
        store::transition(&state.db, &caller.audit(), id, action, &input.comment)
            .await?
            .into(),
    ))
}

macro_rules! step_route {
    ($name:ident, $path:literal, $scope:literal, $action:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "campaigns",
            security(("session" = [$scope])),
            params(("id" = i64, Path, description = "Campaign id")),
            request_body = StepIn,
            responses((status = 200, body = CampaignOut), (status = 404, body = ErrorBody),
                (status = 409, body = ErrorBody, description = "invalid_transition: not allowed in the current state"),
                (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
        async fn $name(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>, ValidJson(input): ValidJson<StepIn>) -> Result<Json<CampaignOut>, ApiError> {
            step(&state, &caller, id, $action, input).await
        }
    };
}

step_route!(
    submit,
    "/v1/campaigns/{id}/submit",
    "campaigns:write",
    Action::Submit,
    "Submits a draft or rejected campaign for review (content is checked against keyword rules)."
);
step_route!(
    approve,
    "/v1/campaigns/{id}/approve",
    "campaigns:review",
    Action::Approve,
    "Approves a campaign in review, binding the approval to what was reviewed (see `approved_hash` on the campaign). Whoever created, edited or submitted the campaign cannot approve it, whatever their role (403 `reviewer_is_editor` or `reviewer_is_submitter`)."
);
step_route!(
    reject,
    "/v1/campaigns/{id}/reject",
    "campaigns:review",
    Action::Reject,
    "Rejects a campaign in review, with a comment. Whoever created, edited or submitted the campaign cannot reject it (403 `reviewer_is_editor` or `reviewer_is_submitter`)."
);
step_route!(
    schedule,
    "/v1/campaigns/{id}/schedule",
    "campaigns:write",
    Action::Schedule,
    "Schedules an approved campaign for sending at its schedule. If what was approved changed since (its template version or audience definition), the campaign returns to draft instead (409 `approval_invalidated`)."
);
step_route!(
    pause,
    "/v1/campaigns/{id}/pause",
    "campaigns:write",
    Action::Pause,
    "Pauses a scheduled or running campaign: no new sends start."
);
step_route!(
    resume,
    "/v1/campaigns/{id}/resume",
    "campaigns:write",
    Action::Resume,
    "Resumes a paused campaign."
);
step_route!(
    cancel,
    "/v1/campaigns/{id}/cancel",
    "campaigns:write",
    Action::Cancel,
    "Cancels a campaign that has not finished."
);
