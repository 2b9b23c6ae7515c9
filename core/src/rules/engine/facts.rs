//! What the engine needs to know about a batch, each fetched with one set-based query
//! keyed by the batch's subscriber ids: opt-outs, endpoint addresses, matching list
//! entries, and what the send ledger holds.

use foldhash::{HashMap, HashMapExt, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait};

use crate::channel::ChannelKind;
use crate::db::{ids_in, one_of};
use crate::deliveries::ledger;
use crate::deliveries::status::DeliveryStatus;
use crate::entities::{list_entry, send_ledger, subscriber_endpoint, subscriber_preference};
use crate::error::Result;
use crate::subscribers::preferences::ANY;

/// A subscriber's preference rows that bear on one category: (channel or `*`, category
/// or `*`, opted out).
pub type Preferences = HashMap<i64, Vec<(String, String, bool)>>;

/// Preference rows of the batch for this category (or every category).
pub async fn preferences(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    category: &str,
) -> Result<Preferences> {
    use subscriber_preference::Column;
    let rows: Vec<(i64, String, String, bool)> = subscriber_preference::Entity::find()
        .select_only()
        .columns([
            Column::SubscriberId,
            Column::Channel,
            Column::Category,
            Column::OptedOut,
        ])
        .filter(ids_in(conn, Column::SubscriberId, ids))
        .filter(Column::Category.is_in([category, ANY]))
        .into_tuple()
        .all(conn)
        .await?;
    let mut by_subscriber: Preferences = HashMap::new();
    for (id, channel, category, out) in rows {
        by_subscriber
            .entry(id)
            .or_default()
            .push((channel, category, out));
    }
    Ok(by_subscriber)
}

/// The most specific preference decides: channel and category named, then the channel
/// with any category, then the category on any channel, then everything.
pub fn is_opted_out(
    preferences: &Preferences,
    subscriber: i64,
    channel: ChannelKind,
    category: &str,
) -> bool {
    let Some(rows) = preferences.get(&subscriber) else {
        return false;
    };
    [
        (channel.as_str(), category),
        (channel.as_str(), ANY),
        (ANY, category),
        (ANY, ANY),
    ]
    .into_iter()
    .find_map(|(c, k)| {
        rows.iter()
            .find(|(channel, category, _)| channel == c && category == k)
            .map(|(_, _, out)| *out)
    })
    .unwrap_or(false)
}

/// Enabled endpoint addresses of the batch on these channels.
pub async fn endpoints(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    channels: &[ChannelKind],
) -> Result<super::Addresses> {
    use subscriber_endpoint::Column;
    if channels.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, String, String)> = subscriber_endpoint::Entity::find()
        .select_only()
        .columns([Column::SubscriberId, Column::Channel, Column::Address])
        .filter(ids_in(conn, Column::SubscriberId, ids))
        .filter(Column::Channel.is_in(channels.iter().map(|c| c.as_str())))
        .filter(Column::Enabled.eq(true))
        .into_tuple()
        .all(conn)
        .await?;
    // The query may return neighbours of a dense batch; only the batch's own count.
    let batch: HashSet<i64> = ids.iter().copied().collect();
    let mut by_subscriber = super::Addresses::new();
    for (id, channel, address) in rows.into_iter().filter(|row| batch.contains(&row.0)) {
        if let Some(channel) = ChannelKind::parse(&channel) {
            by_subscriber
                .entry((id, channel))
                .or_default()
                .push(address);
        }
    }
    Ok(by_subscriber)
}

/// A list entry that matched one of the batch's values.
#[derive(Debug, Clone)]
pub struct ListHit {
    pub id: i64,
    pub allow: bool,
    pub kind: &'static str,
    pub channel: Option<ChannelKind>,
    pub reason: String,
    pub expires_at: Option<DateTime<Utc>>,
}

impl ListHit {
    pub fn active_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// The values a batch can be matched on, by entry kind.
#[derive(Default)]
pub struct ListProbe {
    pub subscribers: Vec<String>,
    pub emails: Vec<String>,
    pub domains: Vec<String>,
    pub phones: Vec<String>,
    pub endpoints: Vec<String>,
}

const KINDS: [&str; 5] = ["subscriber", "email", "email_domain", "phone", "endpoint"];

/// The kinds of list entry present at all, each checked with one index probe.
pub async fn list_kinds_in_use(conn: &impl ConnectionTrait) -> Result<Vec<&'static str>> {
    use list_entry::Column;
    let mut kinds = Vec::new();
    for kind in KINDS {
        let present = list_entry::Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::Kind.eq(kind))
            .into_tuple::<i64>()
            .one(conn)
            .await?
            .is_some();
        if present {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

/// Matching entries by kind, then value (so lookups borrow instead of allocating).
pub type ListHits = HashMap<&'static str, HashMap<String, Vec<ListHit>>>;

/// Unexpired entries matching any probe value.
pub async fn list_hits(
    conn: &impl ConnectionTrait,
    probe: ListProbe,
    now: DateTime<Utc>,
) -> Result<ListHits> {
    use list_entry::Column;
    let mut any_value = sea_orm::Condition::any();
    for (kind, values) in [
        ("subscriber", probe.subscribers),
        ("email", probe.emails),
        ("email_domain", probe.domains),
        ("phone", probe.phones),
        ("endpoint", probe.endpoints),
    ] {
        if !values.is_empty() {
            any_value = any_value.add(Column::Kind.eq(kind).and(one_of(
                conn,
                Column::Value,
                values,
            )));
        }
    }
    if any_value.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<EntryRow> = list_entry::Entity::find()
        .select_only()
        .columns(ENTRY_COLUMNS)
        .filter(any_value)
        .filter(Column::ExpiresAt.is_null().or(Column::ExpiresAt.gt(now)))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(index_entries(rows))
}

type EntryRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<DateTime<Utc>>,
);

const ENTRY_COLUMNS: [list_entry::Column; 7] = [
    list_entry::Column::Id,
    list_entry::Column::List,
    list_entry::Column::Kind,
    list_entry::Column::Value,
    list_entry::Column::Channel,
    list_entry::Column::Reason,
    list_entry::Column::ExpiresAt,
];

fn index_entries(rows: Vec<EntryRow>) -> ListHits {
    let mut hits: ListHits = HashMap::new();
    for (id, list, kind, value, channel, reason, expires_at) in rows {
        let Some(kind) = KINDS.iter().copied().find(|k| *k == kind) else {
            continue;
        };
        let hit = ListHit {
            id,
            allow: list == "allow",
            kind,
            // An entry for a channel name Herald does not know applies nowhere.
            channel: match channel.as_deref().map(ChannelKind::parse) {
                None => None,
                Some(Some(channel)) => Some(channel),
                Some(None) => continue,
            },
            reason,
            expires_at,
        };
        hits.entry(kind)
            .or_default()
            .entry(value)
            .or_default()
            .push(hit);
    }
    hits
}

/// Every list entry, when there are at most `limit`: a whole list that small is
/// cheaper to hold than to query for every batch. `None` when there are more.
pub async fn all_list_entries(conn: &impl ConnectionTrait, limit: u64) -> Result<Option<ListHits>> {
    // One more row than the limit tells "too many" without counting the whole table.
    let query = list_entry::Entity::find()
        .select_only()
        .columns(ENTRY_COLUMNS)
        .limit(limit + 1)
        .build(conn.get_database_backend());
    let rows = conn
        .query_all_raw(query)
        .await?
        .iter()
        .map(|row| row.try_get_many_by_index::<EntryRow>())
        .collect::<std::result::Result<Vec<_>, _>>()?;
    if rows.len() as u64 > limit {
        return Ok(None);
    }
    Ok(Some(index_entries(rows)))
}

/// Which ledger rows a cap or dedup rule counts.
pub enum LedgerScope<'a> {
    /// Rows on these channels, grouped per channel.
    Channels(&'a [ChannelKind]),
    /// Rows of this category on any channel.
    Category(&'a str),
}

/// The ledger rows since `since` in `scope` holding any of `ids`, selecting block and
/// bits first.
fn ledger_query(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    scope: &LedgerScope<'_>,
    since: DateTime<Utc>,
) -> sea_orm::Select<send_ledger::Entity> {
    use send_ledger::Column;
    let query = ledger::rows_near(conn, ids, since);
    match scope {
        LedgerScope::Channels(channels) => {
            query.filter(Column::Channel.is_in(channels.iter().map(|c| c.as_str())))
        }
        LedgerScope::Category(category) => query.filter(Column::Category.eq(*category)),
    }
}

/// Slots since `since`, counted per subscriber (and channel when the scope is channels;
/// the category scope reports them under no channel).
pub async fn ledger_counts(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    scope: &LedgerScope<'_>,
    since: DateTime<Utc>,
) -> Result<HashMap<(i64, Option<ChannelKind>), u32>> {
    let mut counts: HashMap<(i64, Option<ChannelKind>), u32> = HashMap::new();
    for (id, channel, _) in ledger_times(conn, ids, scope, since).await? {
        *counts.entry((id, channel)).or_default() += 1;
    }
    Ok(counts)
}

/// Slots since `since` one by one, for windows that start at a different instant for
/// each subscriber.
pub async fn ledger_times(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    scope: &LedgerScope<'_>,
    since: DateTime<Utc>,
) -> Result<Vec<(i64, Option<ChannelKind>, DateTime<Utc>)>> {
    use send_ledger::Column;
    let rows: Vec<(i64, i64, String, DateTime<Utc>)> = ledger_query(conn, ids, scope, since)
        .columns([Column::Channel, Column::SentAt])
        .into_tuple()
        .all(conn)
        .await?;
    let per_channel = matches!(scope, LedgerScope::Channels(_));
    let wanted = ledger::Wanted::new(ids);
    let mut times = Vec::new();
    for (block, bits, channel, at) in rows {
        let channel = if per_channel {
            ChannelKind::parse(&channel)
        } else {
            None
        };
        times.extend(wanted.marked(block, bits).map(|id| (id, channel, at)));
    }
    Ok(times)
}

/// A ledger row as budgets see it.
#[derive(Debug, Clone)]
pub struct LedgerSend {
    pub subscriber_id: i64,
    pub channel: Option<ChannelKind>,
    pub category: String,
    pub at: DateTime<Utc>,
    /// The message the slot was reserved for.
    pub message_id: Option<i64>,
}

/// Every ledger row of `ids` since `since` (for budgets, which count across channels
/// and categories by class).
pub async fn ledger_sends(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    since: DateTime<Utc>,
) -> Result<Vec<LedgerSend>> {
    use send_ledger::Column;
    type Row = (i64, i64, String, String, DateTime<Utc>, Option<i64>);
    let rows: Vec<Row> = ledger::rows_near(conn, ids, since)
        .columns([
            Column::Channel,
            Column::Category,
            Column::SentAt,
            Column::MessageId,
        ])
        .into_tuple()
        .all(conn)
        .await?;
    let wanted = ledger::Wanted::new(ids);
    let mut sends = Vec::new();
    for (block, bits, channel, category, at, message_id) in rows {
        let channel = ChannelKind::parse(&channel);
        sends.extend(wanted.marked(block, bits).map(|subscriber_id| LedgerSend {
            subscriber_id,
            channel,
            category: category.clone(),
            at,
            message_id,
        }));
    }
    Ok(sends)
}

/// The slots (message, subscriber, channel) of these subscribers and messages whose
/// deliveries all still wait in the queue unattempted, with how many delivery rows
/// each has: sends that can still be put off.
pub async fn waiting_slots(
    conn: &impl ConnectionTrait,
    subscriber_ids: &[i64],
    message_ids: &[i64],
) -> Result<HashMap<(i64, i64, ChannelKind), u64>> {
    use crate::entities::delivery::{Column, Entity};
    let queued_unattempted = Expr::col(Column::Status)
        .eq(DeliveryStatus::Queued.as_str())
        .and(Expr::col(Column::Attempts).eq(0));
    let waiting = Expr::case(queued_unattempted, 1).finally(0).sum();
    let rows: Vec<(i64, i64, String, i64, i64)> = Entity::find()
        .select_only()
        .columns([Column::MessageId, Column::SubscriberId, Column::Channel])
        .expr(Expr::col(Column::Id).count())
        .expr(waiting)
        .filter(one_of(conn, Column::SubscriberId, subscriber_ids.to_vec()))
        .filter(one_of(conn, Column::MessageId, message_ids.to_vec()))
        .group_by(Column::MessageId)
        .group_by(Column::SubscriberId)
        .group_by(Column::Channel)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|(.., rows, waiting)| rows == waiting)
        .filter_map(|(message, subscriber, channel, rows, _)| {
            let channel = ChannelKind::parse(&channel)?;
            Some(((message, subscriber, channel), u64::try_from(rows).ok()?))
        })
        .collect())
}

/// What a dedup rule compares: the template or the caller's dedup key.
pub enum DedupMatch<'a> {
    Template(i64),
    Key(&'a str),
}

/// (subscriber, channel) pairs already sent this template or key since `since`.
pub async fn already_sent(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    channels: &[ChannelKind],
    matching: DedupMatch<'_>,
    since: DateTime<Utc>,
) -> Result<HashSet<(i64, ChannelKind)>> {
    use send_ledger::Column;
    let query =
        ledger_query(conn, ids, &LedgerScope::Channels(channels), since).column(Column::Channel);
    let query = match matching {
        DedupMatch::Template(id) => query.filter(Column::TemplateId.eq(id)),
        DedupMatch::Key(key) => query.filter(Column::DedupKey.eq(key)),
    };
    let rows: Vec<(i64, i64, String)> = query.into_tuple().all(conn).await?;
    Ok(ledger::Wanted::new(ids).on_channels(rows))
}
