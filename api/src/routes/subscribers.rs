//! Subscribers: upsert by the product's external id, read, list, delete, preferences,
//! export.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use herald_core::deliveries::log::DeliveryEntry;
use herald_core::entities::subscriber;
use herald_core::inbox::InboxItem;
use herald_core::subscribers::preferences::{self, Preference, PreferencesIn};
use herald_core::subscribers::query::{self, SubscriberFilter};
use herald_core::subscribers::{
    SubscriberIn, export, input::is_attribute_key, parse_external_id, store,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use validator::Validate;

use super::pagination::{DEFAULT_LIMIT, next_cursor, parse_cursor};
use super::subscriber_endpoints::EndpointOut;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, ValidJson, ValidQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_subscribers))
        .routes(routes!(get_subscriber, put_subscriber, delete_subscriber))
        .routes(routes!(get_preferences, put_preferences))
        .routes(routes!(export_subscriber))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriberOut {
    external_id: String,
    email: Option<String>,
    phone: Option<String>,
    timezone: Option<String>,
    locale: Option<String>,
    tags: Vec<String>,
    #[schema(value_type = Object)]
    attributes: serde_json::Value,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<subscriber::Model> for SubscriberOut {
    fn from(m: subscriber::Model) -> Self {
        Self {
            tags: serde_json::from_value(m.tags).unwrap_or_default(),
            external_id: m.external_id,
            email: m.email,
            phone: m.phone,
            timezone: m.timezone,
            locale: m.locale,
            attributes: m.attributes,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriberPage {
    items: Vec<SubscriberOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubscriberQuery {
    /// Only subscribers with this tag.
    tag: Option<String>,
    /// `key:value`: only subscribers whose attribute equals the value (as text).
    attribute: Option<String>,
    /// Only subscribers in this IANA time zone.
    timezone: Option<String>,
    /// Only subscribers whose external id or email starts with this text.
    #[validate(length(min = 1, max = 255))]
    search: Option<String>,
    cursor: Option<String>,
    /// 1 to 500 (default 50).
    #[validate(range(min = 1, max = 500))]
    limit: Option<u64>,
}

/// The external id from the path, checked.
pub fn external_id(raw: &str) -> Result<&str, ApiError> {
    Ok(parse_external_id(raw)?)
}

/// Subscribers in creation order, with filters.
#[utoipa::path(get, path = "/v1/subscribers", tag = "subscribers",
    security(("session" = ["subscribers:read"]), ("api_key" = ["subscribers:read"])),
    params(SubscriberQuery),
    responses((status = 200, body = SubscriberPage), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_subscribers(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<SubscriberQuery>,
) -> Result<Json<SubscriberPage>, ApiError> {
    let attribute = match query.attribute.as_deref() {
        None => None,
        Some(pair) => {
            let (key, value) = pair
                .split_once(':')
                .ok_or_else(|| ApiError::validation("attribute", "use key:value"))?;
            if !is_attribute_key(key) {
                return Err(ApiError::validation(
                    "attribute",
                    "the key must be an identifier",
                ));
            }
            Some((key.to_owned(), value.to_owned()))
        }
    };
    let filter = SubscriberFilter {
        tag: query.tag,
        attribute,
        timezone: query.timezone,
        search: query.search,
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let after = parse_cursor(query.cursor.as_deref())?;
    let rows = query::list(&state.db, &filter, after, limit).await?;
    let next_cursor = next_cursor(&rows, limit, |r| r.id);
    Ok(Json(SubscriberPage {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// One subscriber.
#[utoipa::path(get, path = "/v1/subscribers/{external_id}", tag = "subscribers",
    security(("session" = ["subscribers:read"]), ("api_key" = ["subscribers:read"])),
    params(("external_id" = String, Path, description = "The product's id for the user")),
    responses((status = 200, body = SubscriberOut), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_subscriber(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<SubscriberOut>, ApiError> {
    Ok(Json(
        store::find(&state.db, external_id(&raw)?).await?.into(),
    ))
}

/// Creates or replaces a subscriber's profile (fields left out become empty).
/// Endpoints and preferences are kept.
#[utoipa::path(put, path = "/v1/subscribers/{external_id}", tag = "subscribers",
    security(("session" = ["subscribers:write"]), ("api_key" = ["subscribers:write"])),
    params(("external_id" = String, Path, description = "The product's id for the user")),
    request_body = SubscriberIn,
    responses((status = 200, body = SubscriberOut, description = "Replaced"),
        (status = 201, body = SubscriberOut, description = "Created"),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn put_subscriber(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    ValidJson(input): ValidJson<SubscriberIn>,
) -> Result<(StatusCode, Json<SubscriberOut>), ApiError> {
    let (stored, created) =
        store::upsert(&state.db, &caller.audit(), external_id(&raw)?, input).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(stored.into())))
}

/// Deletes a subscriber and the personal data held on them: fields, endpoints,
/// preferences and inbox. Their deliveries stay in the delivery log and the reports,
/// anonymised: the log shows an empty recipient, deliveries still waiting are cancelled,
/// and their addresses are replaced by `[erased]` in recorded provider answers.
#[utoipa::path(delete, path = "/v1/subscribers/{external_id}", tag = "subscribers",
    security(("session" = ["subscribers:write"]), ("api_key" = ["subscribers:write"])),
    params(("external_id" = String, Path, description = "The product's id for the user")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn delete_subscriber(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    store::delete(&state.db, &caller.audit(), external_id(&raw)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Everything Herald holds on one subscriber.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriberExport {
    exported_at: DateTime<Utc>,
    subscriber: SubscriberOut,
    endpoints: Vec<EndpointOut>,
    preferences: Vec<Preference>,
    /// Every inbox item, archived ones included, oldest first.
    inbox: Vec<InboxItem>,
    /// Every delivery in the log, newest first.
    deliveries: Vec<DeliveryEntry>,
}

/// Everything Herald holds on a subscriber (their right of access): profile, endpoints,
/// preferences, inbox and delivery log. Each export is audited.
#[utoipa::path(get, path = "/v1/subscribers/{external_id}/export", tag = "subscribers",
    security(("session" = ["subscribers:read"]), ("api_key" = ["subscribers:read"])),
    params(("external_id" = String, Path, description = "The product's id for the user")),
    responses((status = 200, body = SubscriberExport), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn export_subscriber(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Json<SubscriberExport>, ApiError> {
    let found = export::export(&state.db, &caller.audit(), external_id(&raw)?).await?;
    Ok(Json(SubscriberExport {
        exported_at: Utc::now(),
        subscriber: found.subscriber.into(),
        endpoints: found.endpoints.into_iter().map(Into::into).collect(),
        preferences: found.preferences,
        inbox: found.inbox,
        deliveries: found.deliveries,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreferencesOut {
    preferences: Vec<Preference>,
}

/// A subscriber's opt-outs per channel and category.
#[utoipa::path(get, path = "/v1/subscribers/{external_id}/preferences", tag = "subscribers",
    security(("session" = ["subscribers:read"]), ("api_key" = ["subscribers:read"])),
    params(("external_id" = String, Path, description = "The product's id for the user")),
    responses((status = 200, body = PreferencesOut), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_preferences(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<PreferencesOut>, ApiError> {
    let subscriber = store::find(&state.db, external_id(&raw)?).await?;
    Ok(Json(PreferencesOut {
        preferences: preferences::get(&state.db, subscriber.id).await?,
    }))
}

/// Replaces a subscriber's preferences. `*` as channel or category means "all".
#[utoipa::path(put, path = "/v1/subscribers/{external_id}/preferences", tag = "subscribers",
    security(("session" = ["subscribers:write"]), ("api_key" = ["subscribers:write"])),
    params(("external_id" = String, Path, description = "The product's id for the user")),
    request_body = PreferencesIn,
    responses((status = 200, body = PreferencesOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn put_preferences(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    ValidJson(input): ValidJson<PreferencesIn>,
) -> Result<Json<PreferencesOut>, ApiError> {
    let stored =
        preferences::replace(&state.db, &caller.audit(), external_id(&raw)?, input).await?;
    Ok(Json(PreferencesOut {
        preferences: stored,
    }))
}
