//! A running campaign's audience cut into pages, each sent by one job-queue task.
//!
//! [`cut_pages`] records the pages of every running campaign (subscriber id ranges of
//! [`PAGE`] recipients, in id order); the worker hands each page to the job queue, and
//! the task that runs it [`claim`]s it, [`prepare`]s it (rules decided, cap slots
//! reserved) and sends what may go now, writes the outcomes with
//! [`crate::deliveries::page::record_first`], and marks the page done ([`finish`]). Cutting is
//! idempotent and exclusive per campaign, so several workers at once cut each page once;
//! a page handed over twice is still run by one task at a time.

use foldhash::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};

use super::dispatch::{first_send_local_time, inbox_content, message_of, wait_for_local_time};
use super::lifecycle::Status;
use super::snapshot;
use super::store;
use crate::audiences::store as audiences;
use crate::blocks::block_of;
use crate::db::is_postgres;
use crate::deliveries::PlanSummary;
use crate::deliveries::page::{PageInput, cancel, reserve};
use crate::entities::by_position::all_by_position;
use crate::entities::{
    campaign, delivery, delivery_page, message, subscriber, subscriber_endpoint,
};
use crate::error::{Error, Result};
use crate::halts::{ALL_HALTED, HALTED_CAMPAIGN_MESSAGES};
use crate::inbox::store::Stored;
use crate::rules::KeywordRules;
use crate::rules::engine::Recipient;
use crate::rules::quiet_hours::opening_on;
use crate::rules::revision::{LoadedRules, RulesCache};

/// Recipients per page: one task's work.
pub const PAGE: u64 = 1_000;
/// Pages recorded per transaction while cutting.
const PAGES_PER_CUT: u64 = 100;
/// A page handed over or claimed this long ago and not done is handed over again, and
/// another task may take it: its task failed for good or was lost.
pub const PAGE_STALE_AFTER: Duration = Duration::minutes(15);

/// Cuts the audience of every running campaign not fully cut yet into pages; returns
/// how many pages were added. A campaign that is no longer what was approved returns to
/// draft instead, and nothing of it is cut.
pub async fn cut_pages<C>(db: &C, now: DateTime<Utc>) -> Result<u64>
where
    C: ConnectionTrait + TransactionTrait,
{
    let mut added = 0;
    for model in store::list(db, Some(Status::Running)).await? {
        let cut_before = message::Entity::find()
            .filter(message::Column::CampaignId.eq(model.id))
            .one(db)
            .await?
            .is_some_and(|m| m.dispatched_at.is_some());
        if cut_before {
            continue;
        }
        // Defence in depth: nothing is planned that is not what was approved.
        if !store::confirm_approval(db, &model).await? {
            continue;
        }
        let message = message_of(db, &model).await?;
        added += cut(db, &model, &message, now).await?;
        let mut done: message::ActiveModel = message.into();
        done.dispatched_at = Set(Some(now));
        done.update(db).await?;
    }
    Ok(added)
}

/// Records the campaign's remaining pages, a chunk per transaction. Each chunk holds the
/// message's row (Postgres) or the write lock (SQLite) and starts after the last page
/// recorded, so two workers cutting at once record each page once.
async fn cut<C>(
    db: &C,
    model: &campaign::Model,
    message: &message::Model,
    now: DateTime<Utc>,
) -> Result<u64>
where
    C: ConnectionTrait + TransactionTrait,
{
    let audience = audiences::get(db, model.audience_id).await?;
    let mut added = 0;
    loop {
        let txn = crate::db::begin_write(db).await?;
        if is_postgres(&txn) {
            message::Entity::find_by_id(message.id)
                .select_only()
                .column(message::Column::Id)
                .lock_exclusive()
                .into_tuple::<i64>()
                .one(&txn)
                .await?;
        }
        let after: Option<i64> = delivery_page::Entity::find()
            .select_only()
            .column_as(delivery_page::Column::LastId.max(), "last")
            .filter(delivery_page::Column::MessageId.eq(message.id))
            .into_tuple::<Option<i64>>()
            .one(&txn)
            .await?
            .flatten();
        let mut query = subscriber::Entity::find()
            .select_only()
            .column(subscriber::Column::Id)
            .filter(snapshot::recipients(&txn, model, &audience, after)?);
        if let Some(after) = after {
            query = query.filter(subscriber::Column::Id.gt(after));
        }
        let limit = PAGE * PAGES_PER_CUT;
        let ids: Vec<i64> = query
            .order_by_asc(subscriber::Column::Id)
            .limit(limit)
            .into_tuple()
            .all(&txn)
            .await?;
        if ids.is_empty() {
            txn.commit().await?;
            return Ok(added);
        }
        let mut previous = after;
        let more = ids.len() as u64 == limit;
        let pages: Vec<delivery_page::ActiveModel> = block_aligned(&ids, PAGE as usize, more)
            .into_iter()
            .map(|chunk| {
                let last = chunk[chunk.len() - 1];
                let page = delivery_page::ActiveModel {
                    message_id: Set(message.id),
                    after_id: Set(previous),
                    last_id: Set(last),
                    task_id: Set(None),
                    claimed_at: Set(None),
                    pushed_at: Set(None),
                    done_at: Set(None),
                    created_at: Set(now),
                    ..Default::default()
                };
                previous = Some(last);
                page
            })
            .collect();
        added += pages.len() as u64;
        crate::bulk::insert_all(
            &txn,
            pages,
            &[
                delivery_page::Column::MessageId,
                delivery_page::Column::LastId,
            ],
        )
        .await?;
        txn.commit().await?;
    }
}

/// Cuts `ids` (ascending) into pages of at least `size` ids, each ending where a block
/// of subscribers ([`crate::blocks`], 64 ids) ends, so two pages never share a block:
/// planners lock subscribers by block, and pages sharing one waited on each other at
/// every boundary. With `more` (further ids may follow these), a last page that may not
/// be whole is left for the next cut, unless it would be the only one.
fn block_aligned(ids: &[i64], size: usize, more: bool) -> Vec<&[i64]> {
    let mut pages = Vec::new();
    let mut start = 0;
    for (i, &id) in ids.iter().enumerate() {
        let block_ends = ids
            .get(i + 1)
            .map_or(!more, |&next| block_of(next).0 != block_of(id).0);
        if i + 1 - start >= size && block_ends {
            pages.push(&ids[start..=i]);
            start = i + 1;
        }
    }
    // Never nothing, even for ids too few to see a block end: a cut must move on.
    if (!more || pages.is_empty()) && start < ids.len() {
        pages.push(&ids[start..]);
    }
    pages
}

/// Pages to hand to the job queue: never handed over, or handed over or claimed so long
/// ago that their task is lost. Oldest first, at most `limit`. None while the kill
/// switch stops all sending or the page's campaign: their tasks would only give them
/// back.
pub async fn to_hand_over(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<delivery_page::Model>> {
    let stale = now - PAGE_STALE_AFTER;
    let never = delivery_page::Column::PushedAt.is_null();
    let lost = delivery_page::Column::PushedAt.lt(stale).and(
        delivery_page::Column::ClaimedAt
            .is_null()
            .or(delivery_page::Column::ClaimedAt.lt(stale)),
    );
    Ok(delivery_page::Entity::find()
        .filter(delivery_page::Column::DoneAt.is_null())
        .filter(never.or(lost))
        .filter(Expr::cust(format!(
            "NOT {ALL_HALTED} AND message_id NOT IN ({HALTED_CAMPAIGN_MESSAGES})"
        )))
        .order_by_asc(delivery_page::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Notes that `ids` were handed to the job queue at `now`.
pub async fn handed_over(db: &impl ConnectionTrait, ids: &[i64], now: DateTime<Utc>) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    delivery_page::Entity::update_many()
        .col_expr(delivery_page::Column::PushedAt, Expr::value(now))
        .filter(delivery_page::Column::Id.is_in(ids.to_vec()))
        .exec(db)
        .await?;
    Ok(())
}

/// The pages not done yet, oldest first: what a worker without a job queue (tests,
/// [`crate`]'s callers stepping by hand) runs itself.
pub async fn open_pages(db: &impl ConnectionTrait) -> Result<Vec<delivery_page::Model>> {
    Ok(delivery_page::Entity::find()
        .filter(delivery_page::Column::DoneAt.is_null())
        .order_by_asc(delivery_page::Column::Id)
        .all(db)
        .await?)
}

/// A page taken by a task.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub page: delivery_page::Model,
    /// No task held the page before: nothing of it can have been written yet.
    pub first_run: bool,
}

/// Takes page `id` for task `task`: a page not done that no task holds, that this task
/// held before (the queue runs a task again after its worker died), or whose holder
/// went silent. `None` when another task holds it or it is done. The swap is guarded by
/// the holder read, so two tasks never both take a page.
pub async fn claim(
    db: &impl ConnectionTrait,
    id: i64,
    task: &str,
    now: DateTime<Utc>,
) -> Result<Option<Claimed>> {
    let Some(page) = delivery_page::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    if page.done_at.is_some() {
        return Ok(None);
    }
    let stale = now - PAGE_STALE_AFTER;
    let holder = match page.task_id.as_deref() {
        None => delivery_page::Column::TaskId.is_null(),
        Some(mine) if mine == task => delivery_page::Column::TaskId.eq(task),
        Some(other) if page.claimed_at.is_none_or(|at| at < stale) => delivery_page::Column::TaskId
            .eq(other)
            .and(delivery_page::Column::ClaimedAt.lt(stale)),
        Some(_) => return Ok(None),
    };
    let taken = delivery_page::Entity::update_many()
        .col_expr(delivery_page::Column::TaskId, Expr::value(task))
        .col_expr(delivery_page::Column::ClaimedAt, Expr::value(now))
        .filter(delivery_page::Column::Id.eq(id))
        .filter(delivery_page::Column::DoneAt.is_null())
        .filter(holder)
        .exec(db)
        .await?
        .rows_affected;
    if taken != 1 {
        return Ok(None);
    }
    Ok(Some(Claimed {
        first_run: page.task_id.is_none(),
        page: delivery_page::Model {
            task_id: Some(task.to_owned()),
            claimed_at: Some(now),
            ..page
        },
    }))
}

/// Gives page `id` back to be handed over again when the kill switch stops all sending
/// or its campaign; returns whether it did. The page's task then ends without running
/// it, and the page waits until the stop is released.
pub async fn give_back_if_halted(db: &impl ConnectionTrait, id: i64) -> Result<bool> {
    let given_back = delivery_page::Entity::update_many()
        .col_expr(
            delivery_page::Column::PushedAt,
            Expr::value(None::<DateTime<Utc>>),
        )
        .filter(delivery_page::Column::Id.eq(id))
        .filter(delivery_page::Column::DoneAt.is_null())
        .filter(Expr::cust(format!(
            "({ALL_HALTED} OR message_id IN ({HALTED_CAMPAIGN_MESSAGES}))"
        )))
        .exec(db)
        .await?
        .rows_affected;
    Ok(given_back == 1)
}

/// Marks page `id` done: everything it decided is written.
pub async fn finish(db: &impl ConnectionTrait, id: i64, now: DateTime<Utc>) -> Result<()> {
    delivery_page::Entity::update_many()
        .col_expr(delivery_page::Column::DoneAt, Expr::value(now))
        .filter(delivery_page::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// What preparing a page decided, with what was read to decide it that sending needs
/// too, so the sender reads none of it again.
#[derive(Default)]
pub struct PageWork {
    /// Deliveries to send now, not yet written.
    pub to_send: Vec<delivery::Model>,
    /// The page's message.
    pub message: Option<message::Model>,
    /// The page's recipients, by id.
    pub subscribers: HashMap<i64, subscriber::Model>,
    /// Their enabled endpoints on the message's channels, oldest first.
    pub endpoints: Vec<subscriber_endpoint::Model>,
    /// The keyword rules the page was decided with.
    pub keywords: Arc<KeywordRules>,
    pub summary: PlanSummary,
    /// Recipients waiting for their local send time.
    pub waiting: u64,
    /// Deliveries written cancelled: the campaign was cancelled before the page ran.
    pub cancelled: u64,
    /// Inbox items stored: announce them on the bus.
    pub stored: Vec<Stored>,
}

impl PageWork {
    /// Deliveries decided by this page (sent, held back, waiting).
    pub fn planned(&self) -> u64 {
        self.summary.queued
            + self.summary.filtered
            + self.summary.deferred
            + self.waiting
            + self.cancelled
    }
}

/// Decides one page of a campaign and reserves the cap slots of what goes now (see
/// [`crate::deliveries::page`]). A cancelled campaign's page decides nothing; a paused
/// one's deliveries are written queued and wait for the campaign to resume.
pub async fn prepare(
    db: &DatabaseConnection,
    claimed: &Claimed,
    rules: &RulesCache,
    now: DateTime<Utc>,
) -> Result<PageWork> {
    let page = &claimed.page;
    let message = message::Entity::find_by_id(page.message_id)
        .one(db)
        .await?
        .ok_or(Error::NotFound { entity: "message" })?;
    let campaign_id = message
        .campaign_id
        .ok_or(Error::NotFound { entity: "campaign" })?;
    let model = store::get(db, campaign_id).await?;
    let status = Status::parse(&model.status);
    if !matches!(
        status,
        Some(Status::Running | Status::Paused | Status::Cancelled)
    ) {
        return Ok(PageWork::default());
    }
    let audience = audiences::get(db, model.audience_id).await?;
    let mut query = subscriber::Entity::find()
        .filter(snapshot::recipients(db, &model, &audience, page.after_id)?)
        .filter(subscriber::Column::Id.lte(page.last_id));
    if let Some(after) = page.after_id {
        query = query.filter(subscriber::Column::Id.gt(after));
    }
    let subscribers: Vec<subscriber::Model> =
        all_by_position(db, query.order_by_asc(subscriber::Column::Id)).await?;
    let recipients: Vec<Recipient> = subscribers.iter().map(Recipient::from).collect();
    let subscribers: HashMap<i64, subscriber::Model> =
        subscribers.into_iter().map(|s| (s.id, s)).collect();
    if status == Some(Status::Cancelled) {
        // The log still answers for everyone the campaign was meant for.
        return Ok(PageWork {
            cancelled: cancel(db, &message, &recipients, now).await?,
            ..PageWork::default()
        });
    }
    let (due, later) = match first_send_local_time(&model) {
        None => (recipients, Vec::new()),
        Some((date, time)) => {
            let mut due = Vec::new();
            let mut later = Vec::new();
            for recipient in recipients {
                let zone = recipient
                    .timezone
                    .as_deref()
                    .and_then(|z| z.parse().ok())
                    .unwrap_or(chrono_tz::Tz::UTC);
                let at = opening_on(zone, date, time);
                if at <= now {
                    due.push(recipient);
                } else {
                    later.push((recipient, at));
                }
            }
            (due, later)
        }
    };
    let LoadedRules { rules, keywords } = rules.current(db).await?;
    let inbox = inbox_content(db, &message).await;
    let reserved = reserve(
        db,
        PageInput {
            rules: &rules,
            message: &message,
            recipients: &due,
            now,
            campaign_id: Some(campaign_id),
            inbox: inbox.as_ref(),
            keywords: &keywords,
            subscribers: &subscribers,
            first_run: claimed.first_run,
        },
    )
    .await?;
    let waiting = wait_for_local_time(db, &model, &message, &later, now).await?;
    Ok(PageWork {
        to_send: reserved.to_send,
        message: Some(message),
        subscribers,
        endpoints: reserved.endpoints,
        keywords,
        summary: reserved.summary,
        waiting,
        cancelled: 0,
        stored: reserved.stored,
    })
}

#[cfg(test)]
mod tests {
    use super::block_aligned;

    #[test]
    fn pages_end_where_a_block_of_subscribers_ends() {
        let ids: Vec<i64> = (1..=300).collect();
        let pages = block_aligned(&ids, 100, false);
        // 1..=127 ends block 1 (64..=127), the first end after 100 ids.
        let bounds: Vec<(i64, i64)> = pages.iter().map(|p| (p[0], p[p.len() - 1])).collect();
        assert_eq!(bounds, [(1, 127), (128, 255), (256, 300)]);
    }

    #[test]
    fn sparse_ids_still_make_pages_of_at_least_the_size() {
        let ids: Vec<i64> = (0..50).map(|i| i * 10).collect();
        let pages = block_aligned(&ids, 10, false);
        assert!(pages[..pages.len() - 1].iter().all(|p| p.len() >= 10));
        assert_eq!(pages.concat(), ids);
        for pair in pages.windows(2) {
            let (last, next) = (pair[0][pair[0].len() - 1], pair[1][0]);
            assert_ne!(last / 64, next / 64, "{last} and {next} share a block");
        }
    }

    #[test]
    fn with_more_to_come_an_unfinished_last_page_waits_for_the_next_cut() {
        let ids: Vec<i64> = (1..=300).collect();
        let pages = block_aligned(&ids, 100, true);
        let bounds: Vec<(i64, i64)> = pages.iter().map(|p| (p[0], p[p.len() - 1])).collect();
        // 256..=300 may continue past 300: its block (256..=319) is not seen to end.
        assert_eq!(bounds, [(1, 127), (128, 255)]);
    }

    #[test]
    fn a_cut_always_moves_on() {
        let ids: Vec<i64> = (1..=50).collect();
        assert_eq!(block_aligned(&ids, 100, true), [&ids[..]]);
    }
}
