//! Running campaigns. A due scheduled campaign is started by exactly one worker (the
//! guarded status swap lets one win); its audience is then planned page by page into
//! the deliveries of one message. Planning is idempotent, so a worker that dies part
//! way is simply followed by another that plans what is missing. A campaign completes
//! when every delivery has reached a final status. Inbox deliveries that may go now are
//! stored as their page is planned, in the same transaction (see
//! [`crate::inbox::deliver`]). Starting and planning first check that the campaign is
//! still what was approved; a list or file audience is planned from the snapshot taken
//! at approval.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect, TransactionSession, TransactionTrait,
};

use super::lifecycle::{Action, Status};
use super::snapshot;
use super::store::{self, Schedule};
use crate::audiences::store as audiences;
use crate::audit::{Actor, AuditContext};
use crate::channel::ChannelKind;
use crate::db::{ids_in, is_postgres};
use crate::deliveries::{DeliveryStatus, PlanSummary, plan_batch, plan_in};
use crate::entities::{campaign, delivery, message, subscriber};
use crate::error::{Error, Result};
use crate::inbox::Bus;
use crate::inbox::deliver::{Planned, store_planned};
use crate::rules::engine::{Recipient, RuleSet};
use crate::rules::quiet_hours::opening_on;
use crate::templates::render::CompiledContent;
use crate::templates::store::{content_of, version};

/// Recipients planned per transaction.
const PAGE: u64 = 1_000;
/// Pages planned at once, each in its own transaction: one page's rows are written
/// while the next one's rules are evaluated.
const PAGES_IN_FLIGHT: usize = 2;
/// No zone is further ahead of UTC than this: the first local-time send is then.
const MAX_OFFSET_HOURS: i64 = 14;

fn worker() -> AuditContext {
    AuditContext::new(Actor::System)
}

fn schedule_of(model: &campaign::Model) -> Option<Schedule> {
    serde_json::from_value(model.schedule.clone()).ok()
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
async fn message_of(db: &impl ConnectionTrait, model: &campaign::Model) -> Result<message::Model> {
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

/// Plans the audience of every running campaign not fully planned yet; returns how
/// many deliveries were planned. The inbox items stored meanwhile are announced on
/// `bus`.
pub async fn dispatch_running<C>(db: &C, now: DateTime<Utc>, bus: Option<&Bus>) -> Result<u64>
where
    C: ConnectionTrait + TransactionTrait,
{
    let mut planned = 0;
    for model in store::list(db, Some(Status::Running)).await? {
        if find_message(db, model.id)
            .await?
            .is_some_and(|m| m.dispatched_at.is_some())
        {
            continue;
        }
        // Defence in depth: nothing is planned that is not what was approved.
        if !store::confirm_approval(db, &model).await? {
            continue;
        }
        let message = message_of(db, &model).await?;
        planned += dispatch(db, &model, &message, now, bus).await?;
        let mut done: message::ActiveModel = message.into();
        done.dispatched_at = Set(Some(Utc::now()));
        done.update(db).await?;
    }
    Ok(planned)
}

/// A campaign's inbox deliveries that may go now are stored as they are planned, with
/// this content compiled once for all pages.
struct InboxNow<'a> {
    content: CompiledContent,
    bus: Option<&'a Bus>,
}

/// The campaign message's content compiled for its inbox deliveries. `None` (no inbox
/// channel, or content that cannot be used) leaves them to the worker, which fails
/// each with the reason.
async fn inbox_content(
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

async fn dispatch<C>(
    db: &C,
    model: &campaign::Model,
    message: &message::Model,
    now: DateTime<Utc>,
    bus: Option<&Bus>,
) -> Result<u64>
where
    C: ConnectionTrait + TransactionTrait,
{
    let audience = audiences::get(db, model.audience_id).await?;
    let rules = RuleSet::load(db).await?;
    let inbox = inbox_content(db, message)
        .await
        .map(|content| InboxNow { content, bus });
    let local_time = match schedule_of(model) {
        Some(Schedule::LocalTime { date, time }) => Some((date, time)),
        _ => None,
    };
    // Up to PAGES_IN_FLIGHT pages are planned at once; the next page is read (a quick
    // keyset query) whenever one finishes.
    let mut in_flight = FuturesUnordered::new();
    let mut after = None;
    let mut exhausted = false;
    let mut planned = 0;
    loop {
        while !exhausted && in_flight.len() < PAGES_IN_FLIGHT {
            let recipients = snapshot::recipients(db, model, &audience, after)?;
            let page = Recipient::page(db, recipients, after, PAGE).await?;
            match page.last() {
                Some(last) => {
                    after = Some(last.id);
                    let context = PageContext {
                        rules: &rules,
                        model,
                        message,
                        local_time,
                        inbox: inbox.as_ref(),
                    };
                    in_flight.push(plan_page(db, context, page, now));
                }
                None => exhausted = true,
            }
        }
        match in_flight.next().await {
            Some(count) => planned += count?,
            None => return Ok(planned),
        }
    }
}

/// What every page of one campaign is planned with.
#[derive(Clone, Copy)]
struct PageContext<'a> {
    rules: &'a RuleSet,
    model: &'a campaign::Model,
    message: &'a message::Model,
    local_time: Option<(NaiveDate, NaiveTime)>,
    inbox: Option<&'a InboxNow<'a>>,
}

/// Plans one page of the audience: those whose send time has come through the rules,
/// the rest (local-time schedules) as deliveries waiting for it.
async fn plan_page<C>(
    db: &C,
    context: PageContext<'_>,
    page: Vec<Recipient>,
    now: DateTime<Utc>,
) -> Result<u64>
where
    C: ConnectionTrait + TransactionTrait,
{
    let PageContext {
        rules,
        model,
        message,
        local_time,
        inbox,
    } = context;
    let (now_due, later): (Vec<Recipient>, Vec<(Recipient, DateTime<Utc>)>) = match local_time {
        None => (page, Vec::new()),
        Some((date, time)) => {
            let mut due = Vec::new();
            let mut wait = Vec::new();
            for recipient in page {
                let zone = recipient
                    .timezone
                    .as_deref()
                    .and_then(|z| z.parse().ok())
                    .unwrap_or(chrono_tz::Tz::UTC);
                let at = opening_on(zone, date, time);
                if at <= now {
                    due.push(recipient);
                } else {
                    wait.push((recipient, at));
                }
            }
            (due, wait)
        }
    };
    let summary = match inbox {
        Some(inbox) => plan_storing_inbox(db, rules, model, message, inbox, &now_due, now).await?,
        None => plan_batch(db, rules, message, &now_due, now).await?,
    };
    let waiting = wait_for_local_time(db, model, message, &later, now).await?;
    Ok(summary.queued + summary.filtered + summary.deferred + waiting)
}

/// Plans `recipients` and stores the items of their inbox deliveries that may go now,
/// in one transaction; the items are announced once it commits.
async fn plan_storing_inbox<C>(
    db: &C,
    rules: &RuleSet,
    model: &campaign::Model,
    message: &message::Model,
    inbox: &InboxNow<'_>,
    recipients: &[Recipient],
    now: DateTime<Utc>,
) -> Result<PlanSummary>
where
    C: ConnectionTrait + TransactionTrait,
{
    if recipients.is_empty() {
        return Ok(PlanSummary::default());
    }
    let txn = crate::db::begin_write(db).await?;
    let summary = plan_in(&txn, rules, message, recipients, now).await?;
    if !still_running(&txn, model.id).await? {
        // Paused or cancelled while its pages are planned: these deliveries wait (or
        // end) with the rest.
        txn.commit().await?;
        return Ok(summary);
    }
    let ids: Vec<i64> = recipients.iter().map(|r| r.id).collect();
    let subscribers = subscriber::Entity::find()
        .filter(ids_in(&txn, subscriber::Column::Id, &ids))
        .all(&txn)
        .await?
        .into_iter()
        .filter(|s| ids.binary_search(&s.id).is_ok())
        .map(|s| (s.id, s))
        .collect();
    let planned = Planned {
        message,
        content: &inbox.content,
    };
    let finished = store_planned(&txn, &[planned], &subscribers, now).await?;
    txn.commit().await?;
    if let Some(bus) = inbox.bus {
        bus.stored(&finished.stored);
    }
    Ok(summary)
}

/// Whether the campaign still runs. On Postgres the row stays share-locked until `txn`
/// ends, so a pause or cancel waits for the page being stored, and the next page sees it.
async fn still_running(txn: &impl ConnectionTrait, campaign_id: i64) -> Result<bool> {
    let mut query = campaign::Entity::find_by_id(campaign_id)
        .select_only()
        .column(campaign::Column::Status);
    if is_postgres(txn) {
        query = query.lock_shared();
    }
    let status: Option<String> = query.into_tuple().one(txn).await?;
    Ok(status.as_deref() == Some(Status::Running.as_str()))
}

/// Recipients whose local send time is still ahead wait as deferred deliveries; the
/// rules decide when that time comes.
async fn wait_for_local_time(
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
