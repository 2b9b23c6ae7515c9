//! The delivery log: every delivery with its status and why, filtered and paged, and
//! one delivery's trace with every attempt — "why did this subscriber not get that
//! campaign".

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::shared_entries::SharedPosition;
use super::status::DeliveryStatus;
use crate::channel::ChannelKind;
use crate::deliveries::devices::NO_ENDPOINT;
use crate::entities::{delivery, delivery_attempt, message, subscriber};
use crate::error::{Error, Result};

/// Which deliveries: every field narrows.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub campaign_id: Option<i64>,
    pub message_id: Option<i64>,
    /// A subscriber's external id.
    pub subscriber: Option<String>,
    pub channel: Option<ChannelKind>,
    pub status: Option<DeliveryStatus>,
    /// Changed at or after.
    pub since: Option<DateTime<Utc>>,
    /// Changed before.
    pub until: Option<DateTime<Utc>>,
}

/// Deliveries of a campaign's message.
pub(crate) fn of_campaign(campaign_id: i64) -> sea_orm::sea_query::SimpleExpr {
    delivery::Column::MessageId.in_subquery(
        Query::select()
            .column(message::Column::Id)
            .from(message::Entity)
            .and_where(message::Column::CampaignId.eq(campaign_id))
            .to_owned(),
    )
}

impl DeliveryFilter {
    fn condition(&self) -> Condition {
        let mut condition = Condition::all();
        if let Some(campaign) = self.campaign_id {
            condition = condition.add(of_campaign(campaign));
        }
        if let Some(id) = self.message_id {
            condition = condition.add(delivery::Column::MessageId.eq(id));
        }
        if let Some(external_id) = &self.subscriber {
            condition = condition.add(
                delivery::Column::SubscriberId.in_subquery(
                    Query::select()
                        .column(subscriber::Column::Id)
                        .from(subscriber::Entity)
                        .and_where(subscriber::Column::ExternalId.eq(external_id.as_str()))
                        .to_owned(),
                ),
            );
        }
        if let Some(channel) = self.channel {
            condition = condition.add(delivery::Column::Channel.eq(channel.as_str()));
        }
        if let Some(status) = self.status {
            condition = condition.add(delivery::Column::Status.eq(status.as_str()));
        }
        if let Some(since) = self.since {
            condition = condition.add(delivery::Column::UpdatedAt.gte(since));
        }
        if let Some(until) = self.until {
            condition = condition.add(delivery::Column::UpdatedAt.lt(until));
        }
        condition
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryEntry {
    /// Absent for a shared entry: a broadcast's delivered recipient, logged by the
    /// shared inbox item `item_id` (its trace is
    /// `/v1/deliveries/shared/{item_id}/{recipient}`).
    pub id: Option<i64>,
    /// The shared inbox item of a shared entry.
    pub item_id: Option<i64>,
    pub message_id: i64,
    /// The subscriber's external id; empty once the subscriber was deleted (their
    /// deliveries stay, anonymised).
    pub recipient: String,
    pub channel: String,
    /// The subscriber endpoint (device, URL) it went to; absent when it went to the
    /// subscriber's own address (email, inbox) or was decided before one was chosen.
    pub endpoint_id: Option<i64>,
    /// queued | filtered | deferred | sending | delivered | failed | dead | expired | cancelled
    pub status: String,
    /// The check that filtered it: opted_out | no_address | blocked | dedup | quiet_hours | frequency_cap | keyword
    pub filter: Option<String>,
    /// The rule that filtered or deferred it.
    pub rule_id: Option<i64>,
    /// The block list entry that filtered it.
    pub list_entry_id: Option<i64>,
    /// Why it was filtered, or the last error.
    pub reason: Option<String>,
    pub attempts: i32,
    /// When the next attempt may start (a deferral or a retry's backoff).
    pub not_before: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn entry(d: delivery::Model, s: Option<subscriber::Model>) -> DeliveryEntry {
    DeliveryEntry {
        id: Some(d.id),
        item_id: None,
        message_id: d.message_id,
        recipient: s.map(|s| s.external_id).unwrap_or_default(),
        channel: d.channel,
        endpoint_id: (d.endpoint_id != NO_ENDPOINT).then_some(d.endpoint_id),
        status: d.status,
        filter: d.filter,
        rule_id: d.rule_id,
        list_entry_id: d.list_entry_id,
        reason: d.reason,
        attempts: d.attempts,
        not_before: d.not_before,
        created_at: d.created_at,
        updated_at: d.updated_at,
    }
}

/// Where a page of the log starts: below a delivery id among the rows, and below a
/// position among the shared entries. The two are read side by side and merged by
/// time, so each moves on only past what a page took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogCursor {
    pub rows_before: i64,
    pub shared: SharedPosition,
}

impl LogCursor {
    /// The newest end of the log.
    pub const START: Self = Self {
        rows_before: i64::MAX,
        shared: SharedPosition::START,
    };

    /// A cursor as [`Self::encode`] wrote it; a bare delivery id (as cursors were
    /// before shared entries) starts the shared entries from the newest.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('.').map(str::parse::<i64>);
        let rows_before = parts.next()?.ok()?;
        let shared = match (parts.next(), parts.next(), parts.next()) {
            (None, None, None) => SharedPosition::START,
            (Some(Ok(item_id)), Some(Ok(subscriber_id)), None) => SharedPosition {
                item_id,
                subscriber_id,
            },
            _ => return None,
        };
        Some(Self {
            rows_before,
            shared,
        })
    }

    pub fn encode(&self) -> String {
        format!(
            "{}.{}.{}",
            self.rows_before, self.shared.item_id, self.shared.subscriber_id
        )
    }
}

/// Deliveries matching `filter`, newest first, from `from`: rows and shared entries
/// merged by creation time. Answers the page and, when it is full, where the next
/// starts.
pub async fn list(
    conn: &impl ConnectionTrait,
    filter: &DeliveryFilter,
    from: LogCursor,
    limit: u64,
) -> Result<(Vec<DeliveryEntry>, Option<LogCursor>)> {
    let rows: Vec<DeliveryEntry> = delivery::Entity::find()
        .filter(filter.condition())
        .filter(delivery::Column::Id.lt(from.rows_before))
        .order_by_desc(delivery::Column::Id)
        .limit(limit)
        .find_also_related(subscriber::Entity)
        .all(conn)
        .await?
        .into_iter()
        .map(|(d, s)| entry(d, s))
        .collect();
    let shared = super::shared_entries::list(conn, filter, from.shared, limit).await?;
    let (mut rows, mut shared) = (rows.into_iter().peekable(), shared.into_iter().peekable());
    let mut next = from;
    let mut page = Vec::new();
    while (page.len() as u64) < limit {
        let take_row = match (rows.peek(), shared.peek()) {
            (Some(row), Some((entry, _))) => row.created_at >= entry.created_at,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_row {
            let Some(row) = rows.next() else { break };
            next.rows_before = row.id.unwrap_or_default();
            page.push(row);
        } else {
            let Some((entry, position)) = shared.next() else {
                break;
            };
            next.shared = position;
            page.push(entry);
        }
    }
    let full = page.len() as u64 == limit;
    Ok((page, full.then_some(next)))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttemptEntry {
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    /// delivered | retryable | permanent; for inbox items also what the subscriber's
    /// client reported: received | displayed | read | archived
    pub outcome: String,
    /// The provider's answer, or the error.
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryTrace {
    #[serde(flatten)]
    pub delivery: DeliveryEntry,
    pub attempts_made: Vec<AttemptEntry>,
}

/// One delivery with every attempt, oldest first.
pub async fn trace(conn: &impl ConnectionTrait, id: i64) -> Result<DeliveryTrace> {
    let (found, subscriber) = delivery::Entity::find_by_id(id)
        .find_also_related(subscriber::Entity)
        .one(conn)
        .await?
        .ok_or(Error::NotFound { entity: "delivery" })?;
    let mut attempts: Vec<AttemptEntry> = first_attempt(&found).into_iter().collect();
    attempts.extend(
        delivery_attempt::Entity::find()
            .filter(delivery_attempt::Column::DeliveryId.eq(id))
            .order_by_asc(delivery_attempt::Column::Id)
            .all(conn)
            .await?
            .into_iter()
            .map(|a| AttemptEntry {
                attempt: a.attempt,
                started_at: a.started_at,
                duration_ms: a.duration_ms,
                outcome: a.outcome,
                detail: a.detail,
            }),
    );
    Ok(DeliveryTrace {
        delivery: entry(found, subscriber),
        attempts_made: attempts,
    })
}

/// The first attempt when the delivery's own row records it (a delivery sent from a
/// page is written once, with its first attempt). A later attempt only follows a
/// retryable one, so the first attempt's outcome is the delivery's own status only
/// when it was the last.
fn first_attempt(row: &delivery::Model) -> Option<AttemptEntry> {
    let started_at = row.first_attempt_at?;
    let outcome = match (row.attempts, DeliveryStatus::parse(&row.status)) {
        (1, Some(DeliveryStatus::Delivered)) => "delivered",
        (1, Some(DeliveryStatus::Failed)) => "permanent",
        _ => "retryable",
    };
    Some(AttemptEntry {
        attempt: 1,
        started_at,
        duration_ms: row.first_attempt_ms.unwrap_or_default(),
        outcome: outcome.to_owned(),
        detail: row.first_attempt_detail.clone().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_what_it_wrote_and_bare_ids_still_read() {
        let cursor = LogCursor {
            rows_before: 17,
            shared: SharedPosition {
                item_id: 9,
                subscriber_id: 4_000_000,
            },
        };
        assert_eq!(LogCursor::parse(&cursor.encode()), Some(cursor));
        assert_eq!(
            LogCursor::parse("42"),
            Some(LogCursor {
                rows_before: 42,
                shared: SharedPosition::START,
            })
        );
        for bad in ["", "x", "1.2", "1.2.3.4", "1..3", "1.2.x"] {
            assert_eq!(LogCursor::parse(bad), None, "{bad}");
        }
    }
}
