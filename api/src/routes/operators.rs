//! Operator management (admins only).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use herald_core::access::{Role, Scope};
use herald_core::entities::operator;
use herald_core::listing::NameSort;
use herald_core::operators::{self, NewOperator, OperatorPatch};
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
        .routes(routes!(list_operators, create_operator))
        .routes(routes!(get_operator, update_operator))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorOut {
    id: i64,
    username: String,
    display_name: String,
    role: Role,
    /// What the role lets the operator do: a console shows only the controls these
    /// allow (the server checks them on every request regardless).
    scopes: Vec<Scope>,
    disabled: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
}

impl From<operator::Model> for OperatorOut {
    fn from(model: operator::Model) -> Self {
        let role = operators::role_of(&model);
        Self {
            scopes: Scope::ALL
                .into_iter()
                .filter(|scope| role.grants(*scope))
                .collect(),
            role,
            id: model.id,
            username: model.username,
            display_name: model.display_name,
            disabled: model.disabled,
            created_at: model.created_at,
            updated_at: model.updated_at,
            last_login_at: model.last_login_at,
        }
    }
}

/// Operators whose username contains `search`; oldest first unless `sort` says otherwise.
#[utoipa::path(get, path = "/v1/operators", tag = "operators",
    security(("session" = ["operators:manage"])),
    params(ListQuery),
    responses((status = 200, body = Vec<OperatorOut>), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_operators(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<ListQuery>,
) -> Result<Json<Vec<OperatorOut>>, ApiError> {
    let (sort, window) = query.split(NameSort::Oldest);
    let all = operators::list(&state.db, sort, &window).await?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
}

/// Creates an operator with a role.
#[utoipa::path(post, path = "/v1/operators", tag = "operators",
    security(("session" = ["operators:manage"])),
    request_body = NewOperator,
    responses((status = 201, body = OperatorOut), (status = 409, body = ErrorBody, description = "username_taken"),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_operator(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(input): ValidJson<NewOperator>,
) -> Result<(StatusCode, Json<OperatorOut>), ApiError> {
    let created = operators::create(&state.db, &caller.audit(), input).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// One operator.
#[utoipa::path(get, path = "/v1/operators/{id}", tag = "operators",
    security(("session" = ["operators:manage"])),
    params(("id" = i64, Path, description = "Operator id")),
    responses((status = 200, body = OperatorOut), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_operator(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<OperatorOut>, ApiError> {
    Ok(Json(operators::get(&state.db, id).await?.into()))
}

/// Changes an operator's name, role, password or disabled flag. Disabling or a new
/// password ends the operator's sessions; the last active admin cannot be demoted.
#[utoipa::path(patch, path = "/v1/operators/{id}", tag = "operators",
    security(("session" = ["operators:manage"])),
    params(("id" = i64, Path, description = "Operator id")),
    request_body = OperatorPatch,
    responses((status = 200, body = OperatorOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "last_admin"), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn update_operator(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ValidJson(patch): ValidJson<OperatorPatch>,
) -> Result<Json<OperatorOut>, ApiError> {
    Ok(Json(
        operators::update(&state.db, &caller.audit(), id, patch)
            .await?
            .into(),
    ))
}
