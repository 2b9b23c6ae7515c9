//! Channel instances (admin only): named plugin settings with write-only secrets, and
//! a test send that shows how the plugin classified the outcome. Their names, without
//! settings, are for everyone who builds campaigns to choose from.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use herald_core::channel_instances::{
    self as instances, ChannelInstanceIn, ChannelInstanceOut, InstanceChoice, TestSendIn,
    TestSendOut,
};
use herald_core::listing::NameSort;
use herald_core::pacing::{self, PublishedPace};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::pagination::ListQuery;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, ValidJson, ValidQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_channels, create_channel))
        .routes(routes!(get_channel, replace_channel, delete_channel))
        .routes(routes!(test_send))
        .routes(routes!(list_pacing))
        .routes(routes!(list_channel_choices))
}

/// Every channel instance's name, kind and whether it is the default of its kind,
/// without settings: what a campaign or a send may choose (`instances`).
#[utoipa::path(get, path = "/v1/channel-choices", tag = "channels",
    security(("session" = ["campaigns:read"])),
    responses((status = 200, body = Vec<InstanceChoice>, description = "Every instance, by name"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_channel_choices(
    State(state): State<AppState>,
) -> Result<Json<Vec<InstanceChoice>>, ApiError> {
    Ok(Json(instances::choices(&state.db).await?))
}

/// How fast the workers send through each channel instance to each receiving host,
/// for lanes a receiver pushed back on (429, SMTP 421, `Retry-After`, a timeout) or
/// that a ceiling paces. Each worker paces its own sends and publishes every heartbeat;
/// lanes not published for two minutes are left out. Unlisted lanes are unpaced.
#[utoipa::path(get, path = "/v1/pacing", tag = "channels",
    security(("session" = ["deliveries:read"])),
    responses((status = 200, body = Vec<PublishedPace>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_pacing(State(state): State<AppState>) -> Result<Json<Vec<PublishedPace>>, ApiError> {
    Ok(Json(pacing::list(&state.db, Utc::now()).await?))
}

/// Channel instances whose name contains `search`, without their secrets; by name
/// unless `sort` says otherwise.
#[utoipa::path(get, path = "/v1/channels", tag = "channels",
    security(("session" = ["channels:manage"])),
    params(ListQuery),
    responses((status = 200, body = Vec<ChannelInstanceOut>), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_channels(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<ListQuery>,
) -> Result<Json<Vec<ChannelInstanceOut>>, ApiError> {
    let (sort, window) = query.split(NameSort::Name);
    let models = instances::list_page(&state.db, sort, &window).await?;
    Ok(Json(
        models
            .into_iter()
            .map(instances::to_out)
            .collect::<Result<_, _>>()?,
    ))
}

/// Creates a channel instance. The settings are checked by building the plugin.
#[utoipa::path(post, path = "/v1/channels", tag = "channels",
    security(("session" = ["channels:manage"])),
    request_body = ChannelInstanceIn,
    responses((status = 201, body = ChannelInstanceOut), (status = 409, body = ErrorBody, description = "name_taken"),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_channel(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(input): ValidJson<ChannelInstanceIn>,
) -> Result<(StatusCode, Json<ChannelInstanceOut>), ApiError> {
    let out = instances::create(
        &state.db,
        state.sealer().await?,
        &state.settings.channel_destinations,
        &caller.audit(),
        input,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// One channel instance, without its secrets.
#[utoipa::path(get, path = "/v1/channels/{name}", tag = "channels",
    security(("session" = ["channels:manage"])),
    params(("name" = String, Path, description = "Instance name")),
    responses((status = 200, body = ChannelInstanceOut), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_channel(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ChannelInstanceOut>, ApiError> {
    Ok(Json(instances::to_out(
        instances::get(&state.db, &name).await?,
    )?))
}

/// Replaces an instance's settings. Secrets left out keep their stored values.
#[utoipa::path(put, path = "/v1/channels/{name}", tag = "channels",
    security(("session" = ["channels:manage"])),
    params(("name" = String, Path, description = "Instance name")),
    request_body = ChannelInstanceIn,
    responses((status = 200, body = ChannelInstanceOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`name_taken`; `in_use`: campaigns still to send chose it, so it may not be renamed, change kind or be disabled (they are named)"),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn replace_channel(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ValidJson(input): ValidJson<ChannelInstanceIn>,
) -> Result<Json<ChannelInstanceOut>, ApiError> {
    Ok(Json(
        instances::replace(
            &state.db,
            state.sealer().await?,
            &state.settings.channel_destinations,
            &caller.audit(),
            &name,
            input,
        )
        .await?,
    ))
}

/// Deletes a channel instance, unless it is the only enabled one of its channel while
/// campaigns still have to send on that channel.
#[utoipa::path(delete, path = "/v1/channels/{name}", tag = "channels",
    security(("session" = ["channels:manage"])),
    params(("name" = String, Path, description = "Instance name")),
    responses((status = 204), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`in_use`: campaigns still to send need it (they are named)"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn delete_channel(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    instances::delete(&state.db, &caller.audit(), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends one test message through the instance and answers with the outcome as the
/// plugin classified it (delivered, retryable or permanent).
#[utoipa::path(post, path = "/v1/channels/{name}/test", tag = "channels",
    security(("session" = ["channels:manage"])),
    params(("name" = String, Path, description = "Instance name")),
    request_body = TestSendIn,
    responses((status = 200, body = TestSendOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn test_send(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ValidJson(input): ValidJson<TestSendIn>,
) -> Result<Json<TestSendOut>, ApiError> {
    Ok(Json(
        instances::test_send(
            &state.db,
            state.sealer().await?,
            &state.settings.channel_destinations,
            &name,
            input,
        )
        .await?,
    ))
}
