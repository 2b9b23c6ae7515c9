//! The audit log, for auditors.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use herald_core::audit::{self, AuditFilter};
use herald_core::entities::audit_log;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use validator::Validate;

use super::pagination::{DEFAULT_LIMIT, next_cursor, parse_cursor};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ValidQuery;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_log))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryOut {
    id: i64,
    occurred_at: DateTime<Utc>,
    /// `operator`, `api_key`, `system` or `cli`.
    actor_kind: String,
    actor_id: Option<String>,
    actor_name: String,
    /// What happened, e.g. `operator.create`, `api_key.revoke`.
    action: String,
    target_kind: String,
    target_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    after: Option<serde_json::Value>,
    request_id: Option<String>,
}

impl From<audit_log::Model> for AuditEntryOut {
    fn from(m: audit_log::Model) -> Self {
        Self {
            id: m.id,
            occurred_at: m.occurred_at,
            actor_kind: m.actor_kind,
            actor_id: m.actor_id,
            actor_name: m.actor_name,
            action: m.action,
            target_kind: m.target_kind,
            target_id: m.target_id,
            before: m.before,
            after: m.after,
            request_id: m.request_id,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    items: Vec<AuditEntryOut>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    action: Option<String>,
    actor_kind: Option<String>,
    actor_id: Option<String>,
    target_kind: Option<String>,
    target_id: Option<String>,
    /// Entries at or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Entries before this time (RFC 3339).
    until: Option<DateTime<Utc>>,
    cursor: Option<String>,
    /// 1 to 500 (default 50).
    #[validate(range(min = 1, max = 500))]
    limit: Option<u64>,
}

/// Audit entries, newest first, with filters.
#[utoipa::path(get, path = "/v1/audit-log", tag = "audit",
    security(("session" = ["audit:read"])),
    params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_audit_log(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let before_id = parse_cursor(query.cursor.as_deref())?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let filter = AuditFilter {
        action: query.action,
        actor_kind: query.actor_kind,
        actor_id: query.actor_id,
        target_kind: query.target_kind,
        target_id: query.target_id,
        since: query.since,
        until: query.until,
    };
    let rows = audit::list(&state.db, &filter, before_id, limit).await?;
    let next_cursor = next_cursor(&rows, limit, |r| r.id);
    Ok(Json(AuditPage {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}
