//! Storing campaigns and moving them through their lifecycle, with a review history.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use validator::Validate;

use super::lifecycle::{Action, Status, next};
use super::review::{self, Contribution};
use super::snapshot;
use crate::audit::{self, Actor, AuditContext, Change};
use crate::channel::ChannelKind;
use crate::entities::{campaign, campaign_review};
use crate::error::{Error, Result};
use crate::error_code::ErrorCode;
use crate::listing::{Window, name_contains, paged};
use crate::rules::check_keywords;
use crate::templates::store as templates;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// As soon as it is scheduled.
    Now,
    /// At one instant for everyone.
    At { at: DateTime<Utc> },
    /// At this wall-clock time on this date in each subscriber's own time zone.
    LocalTime {
        date: NaiveDate,
        #[schema(value_type = String, example = "09:00")]
        time: NaiveTime,
    },
}

/// Years a campaign may be scheduled or expire in: any real campaign fits, and the
/// time arithmetic on them (zone offsets, hours before the first local send) stays far
/// from the calendar's ends, where it would overflow.
const SCHEDULABLE_YEARS: std::ops::RangeInclusive<i32> = 2000..=2999;

fn check_year(field: &str, year: i32) -> Result<()> {
    if SCHEDULABLE_YEARS.contains(&year) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!(
                "must be in the years {} to {}",
                SCHEDULABLE_YEARS.start(),
                SCHEDULABLE_YEARS.end()
            ),
        ))
    }
}

impl Schedule {
    fn check(&self) -> Result<()> {
        use chrono::Datelike;
        match self {
            Schedule::Now => Ok(()),
            Schedule::At { at } => check_year("schedule.at", at.year()),
            Schedule::LocalTime { date, .. } => check_year("schedule.date", date.year()),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignIn {
    #[validate(length(min = 1, max = 200))]
    pub name: String,
    pub template_id: i64,
    /// The version to send; the latest when absent.
    pub template_version: Option<i32>,
    pub audience_id: i64,
    #[validate(length(min = 1, max = 5))]
    pub channels: Vec<ChannelKind>,
    pub schedule: Schedule,
    /// 0 (lowest) to 10 (highest); 5 when absent.
    #[validate(range(min = 0, max = 10))]
    pub priority: Option<i32>,
    /// What kind of message this is (rules and opt-outs are per category).
    #[validate(length(min = 1, max = 64))]
    pub category: String,
    /// Values for the template's `data.<key>`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: serde_json::Map<String, serde_json::Value>,
    /// Deliveries not made by then end as expired.
    pub expires_at: Option<DateTime<Utc>>,
    /// Channel instances to send through, by name, one per kind (the marketing SMTP
    /// relay rather than the transactional one); the first enabled instance of each
    /// kind otherwise.
    #[serde(default)]
    #[validate(length(max = 6))]
    pub instances: Vec<String>,
}

fn status_of(model: &campaign::Model) -> Status {
    Status::parse(&model.status).unwrap_or(Status::Cancelled)
}

/// Checks references and fills in the template version.
async fn resolve(conn: &impl ConnectionTrait, input: &CampaignIn) -> Result<i32> {
    input.validate()?;
    input.schedule.check()?;
    if let Some(at) = input.expires_at {
        check_year("expires_at", chrono::Datelike::year(&at))?;
    }
    let version =
        templates::referenced_version(conn, input.template_id, input.template_version).await?;
    templates::require_channels(&templates::content_of(&version)?, &input.channels)?;
    templates::require_data(&version, &input.data)?;
    crate::channel_instances::check_choice(conn, &input.instances).await?;
    crate::audiences::store::get(conn, input.audience_id)
        .await
        .map_err(|e| e.missing_as_invalid("audience_id", "no such audience"))?;
    if input.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(Error::invalid("expires_at", "must be in the future"));
    }
    Ok(version.version)
}

fn apply(active: &mut campaign::ActiveModel, input: CampaignIn, version: i32) {
    active.name = Set(input.name);
    active.template_id = Set(input.template_id);
    active.template_version = Set(version);
    active.audience_id = Set(input.audience_id);
    active.channels = Set(json!(input.channels));
    active.schedule = Set(serde_json::to_value(&input.schedule).unwrap_or_default());
    active.priority = Set(input.priority.unwrap_or(5));
    active.category = Set(input.category);
    active.data = Set(serde_json::Value::Object(input.data));
    active.expires_at = Set(input.expires_at);
    active.instances = Set((!input.instances.is_empty()).then(|| json!(input.instances)));
    active.updated_at = Set(Utc::now());
}

async fn record_step(
    conn: &impl ConnectionTrait,
    ctx: &AuditContext,
    campaign_id: i64,
    action: Action,
    from: Status,
    to: Status,
    comment: &str,
) -> Result<()> {
    campaign_review::ActiveModel {
        campaign_id: Set(campaign_id),
        action: Set(action.as_str().to_owned()),
        from_status: Set(from.as_str().to_owned()),
        to_status: Set(to.as_str().to_owned()),
        actor_id: Set(ctx.actor.operator_id()),
        actor_name: Set(ctx.actor.name()),
        comment: Set(comment.to_owned()),
        occurred_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    audit::record(
        conn,
        ctx,
        Change {
            action: &format!("campaign.{}", action.as_str()),
            target_kind: "campaign",
            target_id: Some(campaign_id.to_string()),
            before: Some(json!({ "status": from.as_str() })),
            after: Some(json!({ "status": to.as_str(), "comment": comment })),
        },
    )
    .await
}

pub async fn create(
    conn: &impl TransactionTrait,
    ctx: &AuditContext,
    input: CampaignIn,
) -> Result<campaign::Model> {
    let txn = crate::db::begin_write(conn).await?;
    let version = resolve(&txn, &input).await?;
    let now = Utc::now();
    let mut active = campaign::ActiveModel {
        status: Set(Status::Draft.as_str().to_owned()),
        created_by: Set(ctx.actor.operator_id()),
        approved_by: Set(None),
        approved_hash: Set(None),
        approved_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    };
    apply(&mut active, input, version);
    let model = active.insert(&txn).await?;
    review::record(&txn, model.id, &ctx.actor, Contribution::Edited).await?;
    record_step(
        &txn,
        ctx,
        model.id,
        Action::Edit,
        Status::Draft,
        Status::Draft,
        "created",
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

pub async fn get(conn: &impl ConnectionTrait, id: i64) -> Result<campaign::Model> {
    campaign::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(Error::NotFound { entity: "campaign" })
}

pub async fn list(
    conn: &impl ConnectionTrait,
    status: Option<Status>,
) -> Result<Vec<campaign::Model>> {
    let mut query = campaign::Entity::find();
    if let Some(status) = status {
        query = query.filter(campaign::Column::Status.eq(status.as_str()));
    }
    Ok(query.order_by_desc(campaign::Column::Id).all(conn).await?)
}

/// How a page of campaigns is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignSort {
    #[default]
    Newest,
    Oldest,
    Name,
    Status,
}

/// A page of campaigns: of `status` if given, whose name contains the window's search.
pub async fn list_page(
    conn: &impl ConnectionTrait,
    status: Option<Status>,
    sort: CampaignSort,
    window: &Window,
) -> Result<Vec<campaign::Model>> {
    let mut query = campaign::Entity::find();
    if let Some(status) = status {
        query = query.filter(campaign::Column::Status.eq(status.as_str()));
    }
    if let Some(search) = &window.search {
        query = query.filter(name_contains(campaign::Column::Name, search));
    }
    query = match sort {
        CampaignSort::Newest => query.order_by_desc(campaign::Column::Id),
        CampaignSort::Oldest => query.order_by_asc(campaign::Column::Id),
        CampaignSort::Name => query
            .order_by_asc(campaign::Column::Name)
            .order_by_desc(campaign::Column::Id),
        CampaignSort::Status => query
            .order_by_asc(campaign::Column::Status)
            .order_by_desc(campaign::Column::Id),
    };
    Ok(paged(query, window).all(conn).await?)
}

pub async fn history(conn: &impl ConnectionTrait, id: i64) -> Result<Vec<campaign_review::Model>> {
    get(conn, id).await?;
    Ok(campaign_review::Entity::find()
        .filter(campaign_review::Column::CampaignId.eq(id))
        .order_by_asc(campaign_review::Column::Id)
        .all(conn)
        .await?)
}

fn refused(action: Action, status: Status) -> Error {
    Error::conflict(
        ErrorCode::InvalidTransition,
        format!(
            "cannot {} a campaign that is {}",
            action.as_str(),
            status.as_str()
        ),
    )
}

/// Ends a cancelled campaign's deliveries that have not started; those being sent finish.
pub(crate) async fn cancel_deliveries(conn: &impl ConnectionTrait, campaign_id: i64) -> Result<()> {
    crate::deliveries::polls::cancel(campaign_id, Utc::now())
        .exec(conn)
        .await?;
    Ok(())
}

/// Moves the status from `from` to `to` only if no one else moved it meanwhile.
async fn swap_status(conn: &impl ConnectionTrait, id: i64, from: Status, to: Status) -> Result<()> {
    let update = campaign::Entity::update_many()
        .col_expr(
            campaign::Column::Status,
            sea_orm::sea_query::Expr::value(to.as_str()),
        )
        .col_expr(
            campaign::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        );
    let moved = update
        .filter(campaign::Column::Id.eq(id))
        .filter(campaign::Column::Status.eq(from.as_str()))
        .exec(conn)
        .await?
        .rows_affected;
    if moved == 0 {
        let now = status_of(&get(conn, id).await?);
        return Err(Error::conflict(
            ErrorCode::InvalidTransition,
            format!("the campaign changed meanwhile; it is {}", now.as_str()),
        ));
    }
    Ok(())
}

/// Replaces a campaign's settings; content under review or approved returns to draft.
pub async fn update(
    conn: &impl TransactionTrait,
    ctx: &AuditContext,
    id: i64,
    input: CampaignIn,
) -> Result<campaign::Model> {
    let txn = crate::db::begin_write(conn).await?;
    let before = get(&txn, id).await?;
    let from = status_of(&before);
    let to = next(from, Action::Edit).ok_or_else(|| refused(Action::Edit, from))?;
    let version = resolve(&txn, &input).await?;
    let mut active: campaign::ActiveModel = before.into();
    apply(&mut active, input, version);
    active.status = Set(to.as_str().to_owned());
    active.approved_by = Set(None);
    active.approved_hash = Set(None);
    active.approved_at = Set(None);
    let after = active.update(&txn).await?;
    snapshot::discard(&txn, id).await?;
    review::record(&txn, id, &ctx.actor, Contribution::Edited).await?;
    record_step(&txn, ctx, id, Action::Edit, from, to, "").await?;
    txn.commit().await?;
    Ok(after)
}

/// Applies a lifecycle action requested by a person (or the worker: start, complete).
/// Reviewers never edited or submitted the campaign; a rejection needs a comment;
/// submitting checks keyword rules; scheduling and starting check that the campaign is
/// still what was approved, and otherwise return it to draft (409 `approval_invalidated`).
pub async fn transition(
    conn: &impl TransactionTrait,
    ctx: &AuditContext,
    id: i64,
    action: Action,
    comment: &str,
) -> Result<campaign::Model> {
    let txn = crate::db::begin_write(conn).await?;
    let found = get(&txn, id).await?;
    let from = status_of(&found);
    let to = next(from, action).ok_or_else(|| refused(action, from))?;
    if matches!(action, Action::Approve | Action::Reject) {
        review::require_independent(&txn, &found, &ctx.actor).await?;
    }
    if action == Action::Reject && comment.trim().is_empty() {
        return Err(Error::invalid(
            "comment",
            "say why the campaign is rejected",
        ));
    }
    if action == Action::Submit {
        let version = templates::version(&txn, found.template_id, found.template_version).await?;
        let content = templates::content_of(&version)?;
        let texts: Vec<&str> = content.parts().iter().map(|p| p.source).collect();
        let channels: Vec<ChannelKind> =
            serde_json::from_value(found.channels.clone()).unwrap_or_default();
        check_keywords(&txn, "template", &texts, &channels, Some(&found.category)).await?;
    }
    if matches!(action, Action::Schedule | Action::Start)
        && !review::approval_holds(&txn, &found).await?
    {
        withdraw_approval(&txn, ctx, id, from).await?;
        txn.commit().await?;
        return Err(Error::conflict(
            ErrorCode::ApprovalInvalidated,
            "the campaign, its template version or its audience changed after approval; \
             it is a draft again and needs a new review",
        ));
    }
    swap_status(&txn, id, from, to).await?;
    match action {
        Action::Submit => review::record(&txn, id, &ctx.actor, Contribution::Submitted).await?,
        Action::Approve => approve(&txn, ctx, &found).await?,
        Action::Cancel => {
            cancel_deliveries(&txn, id).await?;
            snapshot::discard(&txn, id).await?;
        }
        Action::Complete => snapshot::discard(&txn, id).await?,
        _ => {}
    }
    record_step(&txn, ctx, id, action, from, to, comment).await?;
    let after = get(&txn, id).await?;
    txn.commit().await?;
    Ok(after)
}

/// Binds the approval to what is approved: freezes a list or file audience, then
/// records the approver and the hash of the content (which counts the snapshot).
async fn approve(
    conn: &impl ConnectionTrait,
    ctx: &AuditContext,
    model: &campaign::Model,
) -> Result<()> {
    let audience = crate::audiences::store::get(conn, model.audience_id).await?;
    if snapshot::is_frozen(&audience) {
        snapshot::take(conn, model.id, &audience).await?;
    }
    let hash = review::content_hash(conn, model).await?;
    set_approval(conn, model.id, ctx.actor.operator_id(), Some(hash)).await
}

/// Records (or, with no hash, clears) the campaign's approval.
async fn set_approval(
    conn: &impl ConnectionTrait,
    id: i64,
    approver: Option<i64>,
    hash: Option<String>,
) -> Result<()> {
    use sea_orm::sea_query::Expr;
    let at = hash.as_ref().map(|_| Utc::now());
    campaign::Entity::update_many()
        .col_expr(campaign::Column::ApprovedBy, Expr::value(approver))
        .col_expr(campaign::Column::ApprovedHash, Expr::value(hash))
        .col_expr(campaign::Column::ApprovedAt, Expr::value(at))
        .filter(campaign::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Returns a campaign whose approved content changed to draft: the approval and the
/// audience snapshot go, deliveries not yet sent are cancelled, and the history says why.
async fn withdraw_approval(
    conn: &impl ConnectionTrait,
    ctx: &AuditContext,
    id: i64,
    from: Status,
) -> Result<()> {
    let to = next(from, Action::Invalidate).ok_or_else(|| refused(Action::Invalidate, from))?;
    swap_status(conn, id, from, to).await?;
    set_approval(conn, id, None, None).await?;
    snapshot::discard(conn, id).await?;
    cancel_deliveries(conn, id).await?;
    // Herald withdraws the approval; the request that noticed keeps its id in the log.
    let herald = AuditContext {
        actor: Actor::System,
        request_id: ctx.request_id.clone(),
    };
    record_step(
        conn,
        &herald,
        id,
        Action::Invalidate,
        from,
        to,
        "what was approved changed (campaign, template version or audience)",
    )
    .await
}

/// The worker's check before planning a running campaign: when it is no longer what was
/// approved, it returns to draft and nothing of it is sent. Returns whether it still holds.
pub(crate) async fn confirm_approval<C>(conn: &C, model: &campaign::Model) -> Result<bool>
where
    C: ConnectionTrait + TransactionTrait,
{
    // Read without the write lock: the check runs every round for every campaign being
    // planned, and almost always holds.
    if review::approval_holds(conn, model).await? {
        return Ok(true);
    }
    let txn = crate::db::begin_write(conn).await?;
    let ctx = AuditContext::new(Actor::System);
    match withdraw_approval(&txn, &ctx, model.id, status_of(model)).await {
        Ok(()) => txn.commit().await?,
        // Someone else moved it meanwhile; their change stands.
        Err(Error::Conflict { .. }) => {}
        Err(other) => return Err(other),
    }
    Ok(false)
}
