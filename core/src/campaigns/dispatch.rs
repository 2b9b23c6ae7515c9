//! Running campaigns. A due scheduled campaign is started by exactly one worker (the
//! guarded status swap lets one win); its audience is then cut into pages, each sent by
//! one job-queue task (see [`super::pages`]). A campaign completes when every page is
//! done and every delivery has reached a final status. Starting and cutting first check
//! that the campaign is still what was approved; a list or file audience is sent from
//! the snapshot taken at approval.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    TransactionTrait,
};

use super::lifecycle::{Action, Status};
use super::store::{self, Schedule};
use crate::audit::{Actor, AuditContext};
use crate::channel::ChannelKind;
use crate::deliveries::DeliveryStatus;
use crate::entities::{campaign, delivery, delivery_page, message};
use crate::error::{Error, Result};
use crate::rules::engine::Recipient;
use crate::templates::render::CompiledContent;
use crate::templates::store::{content_of, version};

/// No zone is further ahead of UTC than this: the first local-time send is then.
const MAX_OFFSET_HOURS: i64 = 14;

fn worker() -> AuditContext {
    AuditContext::new(Actor::System)
}

fn schedule_of(model: &campaign::Model) -> Option<Schedule> {
    serde_json::from_value(model.schedule.clone()).ok()
}

/// A local-time schedule's date and time: each recipient gets it in their own zone.
pub(crate) fn first_send_local_time(model: &campaign::Model) -> Option<(NaiveDate, NaiveTime)> {
    match schedule_of(model)? {
        Schedule::LocalTime { date, time } => Some((date, time)),
        _ => None,
    }
}

/// When the campaign's first delivery may go out.
fn first_send(model: &campaign::Model) -> Option<DateTime<Utc>> {
    match schedule_of(model)? {
        Schedule::Now => Some(model.updated_at),
        Schedule::At { at } => Some(at),
        // Checked: a row stored before dates were range-checked must not panic here.
        Schedule::LocalTime { date, time } => date
            .and_time(time)
            .and_utc()
            .checked_sub_signed(Duration::hours(MAX_OFFSET_HOURS)),
    }
}

/// Starts every scheduled campaign that is due; returns the ids this call started.
/// When several workers try at once, each campaign is started by one of them.
pub async fn start_due<C>(db: &C, now: DateTime<Utc>) -> Result<Vec<i64>>
where
    C: ConnectionTrait + TransactionTrait,
{
    let scheduled = store::list(db, Some(Status::Scheduled)).await?;
    let mut started = Vec::new();
    for model in scheduled {
        if first_send(&model).is_none_or(|at| at > now) {
            continue;
        }
        match store::transition(db, &worker(), model.id, Action::Start, "").await {
            Ok(_) => started.push(model.id),
            // Another worker started it (or an operator changed it) first.
            Err(Error::Conflict { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(started)
}

async fn find_message(
    db: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Option<message::Model>> {
    Ok(message::Entity::find()
        .filter(message::Column::CampaignId.eq(campaign_id))
        .one(db)
        .await?)
}

/// The campaign's message, created on first use (by whichever worker comes first).
pub(crate) async fn message_of(
    db: &impl ConnectionTrait,
    model: &campaign::Model,
) -> Result<message::Model> {
    if let Some(found) = find_message(db, model.id).await? {
        return Ok(found);
    }
    message::Entity::insert(message::ActiveModel {
        kind: Set("campaign".to_owned()),
        campaign_id: Set(Some(model.id)),
        category: Set(model.category.clone()),
        template_id: Set(Some(model.template_id)),
        template_version: Set(Some(model.template_version)),
        content: Set(None),
        data: Set(model.data.clone()),
        channels: Set(model.channels.clone()),
        instances: Set(model.instances.clone()),
        sender: Set("campaign".to_owned()),
        dedup_key: Set(None),
        expires_at: Set(model.expires_at),
        dispatched_at: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(message::Column::CampaignId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    find_message(db, model.id)
        .await?
        .ok_or(Error::NotFound { entity: "message" })
}

/// The campaign message's content compiled for its inbox deliveries. `None` (no inbox
/// channel, or content that cannot be used) leaves them to the worker, which fails
/// each with the reason.
pub(crate) async fn inbox_content(
    db: &impl ConnectionTrait,
    message: &message::Model,
) -> Option<CompiledContent> {
    let channels: Vec<ChannelKind> = serde_json::from_value(message.channels.clone()).ok()?;
    if !channels.contains(&ChannelKind::Inbox) {
        return None;
    }
    let (template, number) = (message.template_id?, message.template_version?);
    let stored = version(db, template, number).await.ok()?;
    CompiledContent::compile(&content_of(&stored).ok()?).ok()
}

/// Recipients whose local send time is still ahead wait as deferred deliveries; the
/// rules decide when that time comes.
pub(crate) async fn wait_for_local_time(
    db: &impl ConnectionTrait,
    model: &campaign::Model,
    message: &message::Model,
    later: &[(Recipient, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> Result<u64> {
    if later.is_empty() {
        return Ok(0);
    }
    let channels: Vec<ChannelKind> =
        serde_json::from_value(model.channels.clone()).unwrap_or_default();
    let rows: Vec<delivery::ActiveModel> = later
        .iter()
        .flat_map(|(recipient, at)| {
            channels.iter().map(move |channel| delivery::ActiveModel {
                message_id: Set(message.id),
                subscriber_id: Set(recipient.id),
                channel: Set(channel.as_str().to_owned()),
                status: Set(DeliveryStatus::Deferred.as_str().to_owned()),
                rule_id: Set(None),
                list_entry_id: Set(None),
                reason: Set(Some(
                    "waiting for the subscriber's local send time".to_owned(),
                )),
                not_before: Set(Some(*at)),
                attempts: Set(0),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
        })
        .collect();
    let count = rows.len() as u64;
    crate::deliveries::plan::insert_deliveries(db, rows).await?;
    Ok(count)
}

/// Completes running campaigns whose deliveries have all reached a final status.
pub async fn complete_finished<C>(db: &C) -> Result<Vec<i64>>
where
    C: ConnectionTrait + TransactionTrait,
{
    let mut completed = Vec::new();
    for model in store::list(db, Some(Status::Running)).await? {
        let Some(message) = find_message(db, model.id).await? else {
            continue;
        };
        if message.dispatched_at.is_none() {
            continue;
        }
        let open_page = delivery_page::Entity::find()
            .select_only()
            .column(delivery_page::Column::Id)
            .filter(delivery_page::Column::MessageId.eq(message.id))
            .filter(delivery_page::Column::DoneAt.is_null())
            .into_tuple::<i64>()
            .one(db)
            .await?;
        // A page still open is the cheap answer while a campaign runs; the deliveries
        // are looked at only once every page is done.
        if open_page.is_some() {
            continue;
        }
        let unfinished = delivery::Entity::find()
            .select_only()
            .column(delivery::Column::Id)
            .filter(delivery::Column::MessageId.eq(message.id))
            .filter(
                delivery::Column::Status.is_in(
                    DeliveryStatus::ALL
                        .into_iter()
                        .filter(|s| !s.is_final())
                        .map(DeliveryStatus::as_str),
                ),
            )
            .into_tuple::<i64>()
            .one(db)
            .await?;
        if unfinished.is_none() {
            match store::transition(db, &worker(), model.id, Action::Complete, "").await {
                Ok(_) => completed.push(model.id),
                Err(Error::Conflict { .. }) => {}
                Err(other) => return Err(other),
            }
        }
    }
    Ok(completed)
}
