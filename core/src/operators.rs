//! Operators: the people who use the admin console, each with one role.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::access::Role;
use crate::audit::{self, AuditContext, Change};
use crate::entities::operator;
use crate::error::{Error, Result};
use crate::error_code::ErrorCode;
use crate::listing::{NameSort, Window, name_page};
use crate::{password, secrets, sessions};

pub const MIN_PASSWORD_LEN: usize = 12;

#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
pub struct NewOperator {
    /// Login name: letters, digits and `.`, `_`, `-`, `@`.
    #[validate(length(min = 1, max = 64), custom(function = "validate_username"))]
    pub username: String,
    #[validate(length(max = 128))]
    pub display_name: Option<String>,
    #[validate(length(min = 12, max = 1024, message = "must be 12 to 1024 characters"))]
    pub password: String,
    pub role: Role,
}

#[derive(Debug, Clone, Default, Deserialize, Validate, ToSchema)]
pub struct OperatorPatch {
    #[validate(length(max = 128))]
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// A disabled operator cannot log in and loses its sessions.
    pub disabled: Option<bool>,
    #[validate(length(min = 12, max = 1024, message = "must be 12 to 1024 characters"))]
    pub password: Option<String>,
}

/// What the audit log keeps of an operator: everything but the password hash.
#[derive(Serialize)]
struct OperatorSnapshot<'a> {
    username: &'a str,
    display_name: &'a str,
    role: &'a str,
    disabled: bool,
}

fn snapshot(model: &operator::Model) -> Option<serde_json::Value> {
    audit::snapshot(&OperatorSnapshot {
        username: &model.username,
        display_name: &model.display_name,
        role: &model.role,
        disabled: model.disabled,
    })
}

fn validate_username(name: &str) -> Result<(), validator::ValidationError> {
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        Ok(())
    } else {
        Err(validator::ValidationError::new("username")
            .with_message("may hold only letters, digits and . _ - @".into()))
    }
}

pub fn role_of(model: &operator::Model) -> Role {
    // Rows are only ever written from `Role`, so an unknown value means a hand edit;
    // the least privileged role is the safe reading.
    Role::parse(&model.role).unwrap_or(Role::Viewer)
}

pub async fn create(
    conn: &impl TransactionTrait,
    ctx: &AuditContext,
    input: NewOperator,
) -> Result<operator::Model> {
    input.validate()?;
    let password_hash = password::hash(&input.password)?;
    let txn = crate::db::begin_write(conn).await?;
    let taken = operator::Entity::find()
        .filter(operator::Column::Username.eq(input.username.as_str()))
        .count(&txn)
        .await?
        > 0;
    if taken {
        return Err(Error::conflict(
            ErrorCode::UsernameTaken,
            format!("username `{}` is already taken", input.username),
        ));
    }
    let now = Utc::now();
    let model = operator::ActiveModel {
        display_name: Set(input.display_name.unwrap_or_else(|| input.username.clone())),
        username: Set(input.username),
        password_hash: Set(password_hash),
        role: Set(input.role.as_str().to_owned()),
        disabled: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        ctx,
        Change {
            action: "operator.create",
            target_kind: "operator",
            target_id: Some(model.id.to_string()),
            before: None,
            after: snapshot(&model),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

pub async fn get(conn: &impl ConnectionTrait, id: i64) -> Result<operator::Model> {
    operator::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(Error::NotFound { entity: "operator" })
}

/// A page of operators whose username contains the window's search.
pub async fn list(
    conn: &impl ConnectionTrait,
    sort: NameSort,
    window: &Window,
) -> Result<Vec<operator::Model>> {
    use operator::Column;
    let columns = (Column::Username, Column::Id);
    name_page(conn, operator::Entity::find(), columns, sort, window).await
}

pub async fn update(
    conn: &impl TransactionTrait,
    ctx: &AuditContext,
    id: i64,
    patch: OperatorPatch,
) -> Result<operator::Model> {
    patch.validate()?;
    let new_hash = patch.password.as_deref().map(password::hash).transpose()?;
    let txn = crate::db::begin_write(conn).await?;
    // Touching every active admin first serialises concurrent changes to admins (row
    // locks on Postgres, the write lock on SQLite), so two demotions cannot both pass
    // the last-admin check below.
    operator::Entity::update_many()
        .col_expr(
            operator::Column::UpdatedAt,
            Expr::col(operator::Column::UpdatedAt),
        )
        .filter(operator::Column::Role.eq(Role::Admin.as_str()))
        .filter(operator::Column::Disabled.eq(false))
        .exec(&txn)
        .await?;
    let before = get(&txn, id).await?;
    let stays_active_admin = patch.role.map_or(role_of(&before), |r| r) == Role::Admin
        && !patch.disabled.unwrap_or(before.disabled);
    if role_of(&before) == Role::Admin && !before.disabled && !stays_active_admin {
        let other_admins = operator::Entity::find()
            .filter(operator::Column::Role.eq(Role::Admin.as_str()))
            .filter(operator::Column::Disabled.eq(false))
            .filter(operator::Column::Id.ne(id))
            .count(&txn)
            .await?;
        if other_admins == 0 {
            return Err(Error::conflict(
                ErrorCode::LastAdmin,
                "this is the last active admin; make another admin first",
            ));
        }
    }
    let mut active: operator::ActiveModel = before.clone().into();
    if let Some(name) = patch.display_name {
        active.display_name = Set(name);
    }
    if let Some(role) = patch.role {
        active.role = Set(role.as_str().to_owned());
    }
    if let Some(disabled) = patch.disabled {
        active.disabled = Set(disabled);
    }
    let password_changed = new_hash.is_some();
    if let Some(hash) = new_hash {
        active.password_hash = Set(hash);
    }
    active.updated_at = Set(Utc::now());
    let after = active.update(&txn).await?;
    if after.disabled || password_changed {
        sessions::delete_for_operator(&txn, id).await?;
    }
    let mut after_snapshot = snapshot(&after);
    if let (true, Some(serde_json::Value::Object(map))) = (password_changed, &mut after_snapshot) {
        map.insert("password_changed".into(), true.into());
    }
    audit::record(
        &txn,
        ctx,
        Change {
            action: "operator.update",
            target_kind: "operator",
            target_id: Some(id.to_string()),
            before: snapshot(&before),
            after: after_snapshot,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

/// Checks a username and password, hashing off the async runtime in one of
/// `hashing_slots`. Unknown users, wrong passwords and disabled operators all answer
/// the same, in about the same time (an unknown user costs a dummy verification).
pub async fn authenticate(
    conn: &impl ConnectionTrait,
    hashing_slots: &tokio::sync::Semaphore,
    username: &str,
    password_attempt: &str,
) -> Result<operator::Model> {
    let found = operator::Entity::find()
        .filter(operator::Column::Username.eq(username))
        .one(conn)
        .await?;
    let stored = found.as_ref().map(|model| model.password_hash.as_str());
    let matches = password::verify_off_runtime(hashing_slots, password_attempt, stored).await?;
    match found {
        Some(model) if matches && !model.disabled => Ok(model),
        _ => Err(Error::InvalidCredentials),
    }
}

pub async fn record_login(conn: &impl ConnectionTrait, id: i64) -> Result<()> {
    operator::Entity::update_many()
        .col_expr(operator::Column::LastLoginAt, Expr::value(Utc::now()))
        .filter(operator::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// What start-up did about the first admin.
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// Operators already exist; nothing was done.
    AlreadySetUp,
    /// The first admin was created; `generated_password` is set when none was configured
    /// and must be shown to the person starting Herald, once.
    Created {
        username: String,
        generated_password: Option<String>,
    },
}

/// Creates the first admin when the database has no operator at all.
pub async fn ensure_first_admin(
    conn: &impl TransactionTrait,
    username: &str,
    configured_password: Option<&str>,
) -> Result<Bootstrap> {
    let txn = crate::db::begin_write(conn).await?;
    if operator::Entity::find().count(&txn).await? > 0 {
        return Ok(Bootstrap::AlreadySetUp);
    }
    drop(txn);
    let generated = configured_password
        .is_none()
        .then(|| secrets::random_token(18));
    let password = configured_password
        .map(str::to_owned)
        .or_else(|| generated.clone())
        .unwrap_or_default();
    let created = create(
        conn,
        &AuditContext::new(audit::Actor::System),
        NewOperator {
            username: username.to_owned(),
            display_name: None,
            password,
            role: Role::Admin,
        },
    )
    .await;
    match created {
        Ok(_) => Ok(Bootstrap::Created {
            username: username.to_owned(),
            generated_password: generated,
        }),
        // Another process created it first (two nodes starting together).
        Err(Error::Conflict { .. }) => Ok(Bootstrap::AlreadySetUp),
        Err(other) => Err(other),
    }
}
