//! API keys for product services. A key reads `hk_<prefix>_<secret>`: the prefix finds
//! the row, the secret is checked against its digest. The full key is shown once.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::access::Scope;
use crate::audit::{self, AuditContext, Change};
use crate::entities::api_key;
use crate::error::{Error, Result};
use crate::listing::{NameSort, Window, name_page};
use crate::secrets;

const KEY_TAG: &str = "hk";
/// Writing `last_used_at` on every request would turn reads into writes; once a minute
/// is precise enough to tell whether a key is still in use.
const LAST_USED_PRECISION_SECS: i64 = 60;

#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
pub struct NewApiKey {
    #[validate(length(min = 1, max = 128))]
    pub name: String,
    /// Scopes the key holds, e.g. `subscribers:write`, `messages:send`.
    #[validate(length(min = 1, message = "name at least one scope"))]
    pub scopes: Vec<String>,
    /// When the key stops working; never when absent.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key just created, with the secret that will not be shown again.
pub struct CreatedKey {
    pub model: api_key::Model,
    pub secret: String,
}

#[derive(Serialize)]
struct KeySnapshot<'a> {
    name: &'a str,
    prefix: &'a str,
    scopes: &'a serde_json::Value,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

fn snapshot(model: &api_key::Model) -> Option<serde_json::Value> {
    audit::snapshot(&KeySnapshot {
        name: &model.name,
        prefix: &model.prefix,
        scopes: &model.scopes,
        expires_at: model.expires_at,
        revoked_at: model.revoked_at,
    })
}

pub fn parse_scopes(names: &[String]) -> Result<Vec<Scope>> {
    let mut scopes = Vec::with_capacity(names.len());
    for (index, name) in names.iter().enumerate() {
        let scope = Scope::parse(name).ok_or_else(|| {
            Error::invalid(
                format!("scopes[{index}]"),
                format!("unknown scope `{name}`"),
            )
        })?;
        if !scope.grantable_to_api_keys() {
            return Err(Error::invalid(
                format!("scopes[{index}]"),
                format!("`{name}` cannot be given to an API key"),
            ));
        }
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Ok(scopes)
}

pub fn scopes_of(model: &api_key::Model) -> Vec<Scope> {
    serde_json::from_value(model.scopes.clone()).unwrap_or_default()
}

pub async fn create(
    conn: &impl TransactionTrait,
    ctx: &AuditContext,
    input: NewApiKey,
) -> Result<CreatedKey> {
    input.validate()?;
    let scopes = parse_scopes(&input.scopes)?;
    if let Some(expiry) = input.expires_at
        && expiry <= Utc::now()
    {
        return Err(Error::invalid("expires_at", "must be in the future"));
    }
    let prefix = secrets::random_hex(6);
    let secret_part = secrets::random_token(32);
    let secret = format!("{KEY_TAG}_{prefix}_{secret_part}");
    let txn = crate::db::begin_write(conn).await?;
    let model = api_key::ActiveModel {
        name: Set(input.name),
        prefix: Set(prefix),
        secret_digest: Set(secrets::digest(&secret)),
        scopes: Set(serde_json::to_value(&scopes).unwrap_or_default()),
        created_by: Set(ctx.actor.operator_id()),
        created_at: Set(Utc::now()),
        expires_at: Set(input.expires_at),
        revoked_at: Set(None),
        last_used_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        ctx,
        Change {
            action: "api_key.create",
            target_kind: "api_key",
            target_id: Some(model.id.to_string()),
            before: None,
            after: snapshot(&model),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(CreatedKey { model, secret })
}

/// A page of API keys whose name contains the window's search.
pub async fn list(
    conn: &impl ConnectionTrait,
    sort: NameSort,
    window: &Window,
) -> Result<Vec<api_key::Model>> {
    use api_key::Column;
    name_page(
        conn,
        api_key::Entity::find(),
        (Column::Name, Column::Id),
        sort,
        window,
    )
    .await
}

pub async fn revoke(
    conn: &impl TransactionTrait,
    ctx: &AuditContext,
    id: i64,
) -> Result<api_key::Model> {
    let txn = crate::db::begin_write(conn).await?;
    let before = api_key::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(Error::NotFound { entity: "api key" })?;
    if before.revoked_at.is_some() {
        return Ok(before);
    }
    let mut active: api_key::ActiveModel = before.clone().into();
    active.revoked_at = Set(Some(Utc::now()));
    let after = active.update(&txn).await?;
    audit::record(
        &txn,
        ctx,
        Change {
            action: "api_key.revoke",
            target_kind: "api_key",
            target_id: Some(id.to_string()),
            before: snapshot(&before),
            after: snapshot(&after),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

/// Finds the live key for a presented secret. Unknown, mistyped, revoked and expired
/// keys all answer `InvalidCredentials`.
pub async fn authenticate(conn: &impl ConnectionTrait, presented: &str) -> Result<api_key::Model> {
    let mut parts = presented.splitn(3, '_');
    let (Some(KEY_TAG), Some(prefix), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Error::InvalidCredentials);
    };
    let found = api_key::Entity::find()
        .filter(api_key::Column::Prefix.eq(prefix))
        .one(conn)
        .await?
        .ok_or(Error::InvalidCredentials)?;
    let now = Utc::now();
    let live = found.revoked_at.is_none() && found.expires_at.is_none_or(|at| at > now);
    if !live || !secrets::constant_time_eq(&secrets::digest(presented), &found.secret_digest) {
        return Err(Error::InvalidCredentials);
    }
    let stale_before = now - Duration::seconds(LAST_USED_PRECISION_SECS);
    if found.last_used_at.is_none_or(|at| at < stale_before) {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
            .filter(api_key::Column::Id.eq(found.id))
            .exec(conn)
            .await?;
    }
    Ok(found)
}
