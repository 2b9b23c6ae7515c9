//! Delivery rules: frequency caps, quiet hours, keyword filters, dedup windows.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use herald_core::entities::rule;
use herald_core::listing::NameSort;
use herald_core::rules::RuleIn;
use herald_core::rules::backtest::{BacktestIn, BacktestOut, backtest};
use herald_core::rules::store;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::pagination::ListQuery;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, ValidJson, ValidQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(get_rule, replace_rule, delete_rule))
        .routes(routes!(backtest_rules))
}

/// Tries a draft rule set on the delivery log of the last `days` days before it is
/// enabled: what it would have held back or deferred, per rule, per channel and per
/// day, with sample subscribers. The log is replayed in one ordered pass (a held
/// delivery does not count towards a later cap). Frequency caps, quiet hours and dedup
/// windows; keyword rules are checked where content is written.
#[utoipa::path(post, path = "/v1/rules/backtest", tag = "rules",
    security(("session" = ["rules:read", "deliveries:read"])),
    request_body = BacktestIn,
    responses((status = 200, body = BacktestOut, description = "What the draft rules would have done"),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn backtest_rules(
    State(state): State<AppState>,
    ValidJson(input): ValidJson<BacktestIn>,
) -> Result<Json<BacktestOut>, ApiError> {
    Ok(Json(backtest(&state.db, input, Utc::now()).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleOut {
    id: i64,
    name: String,
    /// `frequency_cap`, `quiet_hours`, `keyword` or `dedup`.
    kind: String,
    /// `global`, `channel` or `category`.
    scope: String,
    scope_value: Option<String>,
    enabled: bool,
    exempt_categories: Vec<String>,
    #[schema(value_type = Object)]
    params: serde_json::Value,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<rule::Model> for RuleOut {
    fn from(m: rule::Model) -> Self {
        Self {
            exempt_categories: serde_json::from_value(m.exempt_categories).unwrap_or_default(),
            id: m.id,
            name: m.name,
            kind: m.kind,
            scope: m.scope,
            scope_value: m.scope_value,
            enabled: m.enabled,
            params: m.params,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// Rules whose name contains `search`; oldest first unless `sort` says otherwise.
#[utoipa::path(get, path = "/v1/rules", tag = "rules",
    security(("session" = ["rules:read"])),
    params(ListQuery),
    responses((status = 200, body = Vec<RuleOut>), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_rules(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<ListQuery>,
) -> Result<Json<Vec<RuleOut>>, ApiError> {
    let (sort, window) = query.split(NameSort::Oldest);
    Ok(Json(
        store::list(&state.db, sort, &window)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Creates a rule: `{"name", "scope", "scope_value"?, "enabled"?, "exempt_categories"?,
/// "kind", "params"}`.
#[utoipa::path(post, path = "/v1/rules", tag = "rules",
    security(("session" = ["rules:write"])),
    request_body = RuleIn,
    responses((status = 201, body = RuleOut), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_rule(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(input): ValidJson<RuleIn>,
) -> Result<(StatusCode, Json<RuleOut>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(
            store::create(&state.db, &caller.audit(), input)
                .await?
                .into(),
        ),
    ))
}

/// One rule.
#[utoipa::path(get, path = "/v1/rules/{id}", tag = "rules",
    security(("session" = ["rules:read"])),
    params(("id" = i64, Path, description = "Rule id")),
    responses((status = 200, body = RuleOut), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_rule(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<RuleOut>, ApiError> {
    Ok(Json(store::get(&state.db, id).await?.into()))
}

/// Replaces a rule.
#[utoipa::path(put, path = "/v1/rules/{id}", tag = "rules",
    security(("session" = ["rules:write"])),
    params(("id" = i64, Path, description = "Rule id")),
    request_body = RuleIn,
    responses((status = 200, body = RuleOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn replace_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ValidJson(input): ValidJson<RuleIn>,
) -> Result<Json<RuleOut>, ApiError> {
    Ok(Json(
        store::replace(&state.db, &caller.audit(), id, input)
            .await?
            .into(),
    ))
}

/// Deletes a rule.
#[utoipa::path(delete, path = "/v1/rules/{id}", tag = "rules",
    security(("session" = ["rules:write"])),
    params(("id" = i64, Path, description = "Rule id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn delete_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    store::delete(&state.db, &caller.audit(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
