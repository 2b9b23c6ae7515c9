//! Storing audiences and resolving them to subscribers (count, sample, pages).

use chrono::Utc;
use sea_orm::SqlErr;
use sea_orm::sea_query::{Condition, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use validator::Validate;

use super::members;
use super::segment::Segment;
use super::sql::{Dialect, condition};
use crate::audit::{self, AuditContext, Change};
use crate::entities::{audience, audience_member, subscriber};
use crate::error::{Error, Result};
use crate::error_code::ErrorCode;
use crate::listing::{NameSort, Window, name_page};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AudienceKind {
    /// Every subscriber.
    All,
    /// The external ids given in `external_ids`.
    List,
    /// External ids uploaded later to `/v1/audiences/{id}/members`.
    File,
    /// Subscribers matching `segment`.
    Segment,
}

impl AudienceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AudienceKind::All => "all",
            AudienceKind::List => "list",
            AudienceKind::File => "file",
            AudienceKind::Segment => "segment",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AudienceIn {
    #[validate(length(min = 1, max = 128))]
    pub name: String,
    pub kind: AudienceKind,
    /// Required for `segment`.
    pub segment: Option<Segment>,
    /// Required for `list`: up to 10,000 ids (upload more as a file).
    #[validate(length(max = 10000))]
    pub external_ids: Option<Vec<String>>,
}

impl AudienceIn {
    fn check(&self) -> Result<()> {
        self.validate()?;
        match (self.kind, &self.segment, &self.external_ids) {
            (AudienceKind::Segment, Some(segment), None) => segment.check(),
            (AudienceKind::Segment, None, _) => Err(Error::invalid(
                "segment",
                "is required for a segment audience",
            )),
            (AudienceKind::List, None, Some(ids)) => {
                for (index, id) in ids.iter().enumerate() {
                    crate::subscribers::parse_external_id(id).map_err(|e| {
                        Error::invalid(format!("external_ids[{index}]"), e.to_string())
                    })?;
                }
                Ok(())
            }
            (AudienceKind::List, _, None) => Err(Error::invalid(
                "external_ids",
                "is required for a list audience",
            )),
            (_, Some(_), _) => Err(Error::invalid("segment", "is only for segment audiences")),
            (_, _, Some(_)) => Err(Error::invalid("external_ids", "is only for list audiences")),
            _ => Ok(()),
        }
    }
}

pub fn segment_of(model: &audience::Model) -> Result<Option<Segment>> {
    model
        .segment
        .clone()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| Error::invalid("segment", format!("stored segment is unreadable: {e}")))
}

pub async fn create(
    conn: &impl TransactionTrait,
    ctx: &AuditContext,
    input: AudienceIn,
) -> Result<audience::Model> {
    input.check()?;
    let txn = crate::db::begin_write(conn).await?;
    let taken = audience::Entity::find()
        .filter(audience::Column::Name.eq(input.name.as_str()))
        .count(&txn)
        .await?
        > 0;
    if taken {
        return Err(Error::conflict(
            ErrorCode::AudienceNameTaken,
            format!("an audience named `{}` exists", input.name),
        ));
    }
    let now = Utc::now();
    let model = audience::ActiveModel {
        name: Set(input.name),
        kind: Set(input.kind.as_str().to_owned()),
        segment: Set(input
            .segment
            .as_ref()
            .map(|s| serde_json::to_value(s).unwrap_or_default())),
        member_count: Set(0),
        created_by: Set(ctx.actor.operator_id()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let mut model = model;
    if let Some(ids) = input.external_ids {
        members::insert(&txn, model.id, ids).await?;
        model = members::refresh_count(&txn, model.id).await?;
    }
    audit::record(&txn, ctx, Change {
        action: "audience.create",
        target_kind: "audience",
        target_id: Some(model.id.to_string()),
        before: None,
        after: Some(json!({ "name": model.name, "kind": model.kind, "segment": model.segment, "members": model.member_count })),
    })
    .await?;
    txn.commit().await?;
    Ok(model)
}

pub async fn get(conn: &impl ConnectionTrait, id: i64) -> Result<audience::Model> {
    audience::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(Error::NotFound { entity: "audience" })
}

/// A page of audiences whose name contains the window's search.
pub async fn list(
    conn: &impl ConnectionTrait,
    sort: NameSort,
    window: &Window,
) -> Result<Vec<audience::Model>> {
    use audience::Column;
    name_page(
        conn,
        audience::Entity::find(),
        (Column::Name, Column::Id),
        sort,
        window,
    )
    .await
}

/// The SQL condition selecting an audience's subscribers.
pub fn condition_for(conn: &impl ConnectionTrait, model: &audience::Model) -> Result<Condition> {
    Ok(match model.kind.as_str() {
        "segment" => match segment_of(model)? {
            Some(segment) => condition(&segment, Dialect::of(conn)),
            None => return Err(Error::invalid("segment", "the audience has no segment")),
        },
        "list" | "file" => Condition::all().add(
            subscriber::Column::ExternalId.in_subquery(
                Query::select()
                    .column(audience_member::Column::ExternalId)
                    .from(audience_member::Entity)
                    .and_where(audience_member::Column::AudienceId.eq(model.id))
                    .to_owned(),
            ),
        ),
        _ => Condition::all(),
    })
}

pub async fn count_matching(conn: &impl ConnectionTrait, filter: Condition) -> Result<u64> {
    Ok(subscriber::Entity::find()
        .filter(filter)
        .count(conn)
        .await?)
}

/// One page of matching subscribers in id order; `after_id` is the previous page's last id.
pub async fn page_matching(
    conn: &impl ConnectionTrait,
    filter: Condition,
    after_id: Option<i64>,
    limit: u64,
) -> Result<Vec<subscriber::Model>> {
    let mut query = subscriber::Entity::find().filter(filter);
    if let Some(id) = after_id {
        query = query.filter(subscriber::Column::Id.gt(id));
    }
    Ok(query
        .order_by_asc(subscriber::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Counts and samples a segment that is not saved yet (the builder's live count).
pub async fn preview_segment(
    conn: &impl ConnectionTrait,
    segment: &Segment,
    sample: u64,
) -> Result<(u64, Vec<subscriber::Model>)> {
    segment.check()?;
    let filter = condition(segment, Dialect::of(conn));
    let count = count_matching(conn, filter.clone()).await?;
    let sample = page_matching(conn, filter, None, sample).await?;
    Ok((count, sample))
}

pub async fn delete(conn: &impl TransactionTrait, ctx: &AuditContext, id: i64) -> Result<()> {
    let txn = crate::db::begin_write(conn).await?;
    let before = get(&txn, id).await?;
    crate::campaigns::users::using_audience(&txn, id)
        .await?
        .refuse_change_to("this audience")?;
    audience::Entity::delete_by_id(id)
        .exec(&txn)
        .await
        .map_err(|e| match e.sql_err() {
            // A campaign created since the check above.
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                Error::in_use("this audience", &["a campaign".to_owned()], 1)
            }
            _ => Error::from(e),
        })?;
    audit::record(
        &txn,
        ctx,
        Change {
            action: "audience.delete",
            target_kind: "audience",
            target_id: Some(id.to_string()),
            before: Some(json!({ "name": before.name, "kind": before.kind })),
            after: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
