//! Each subscriber's unread pair `(count, version)`, folded lazily over broadcasts
//! (ADR 0003). Storing a shared item writes nothing per recipient: a subscriber's pair
//! is their stored pair plus, for each shared item meant for them after their
//! `shared_through`, one unread and one version. Every write to a pair folds those in
//! first and moves `shared_through` on, so what is left to count is the broadcasts
//! since the subscriber's last change; a planner also folds recipients whose block
//! holds [`FOLD_AT`] shared items after theirs, and with them the block's other
//! subscribers, so no read visits many more.
//!
//! Pairs are read by one statement (one snapshot): the stored pairs and the share rows
//! of their blocks after the oldest of them, counted here a block at a time (a share
//! row serves its 64 subscribers). They are written under the planning locks of their
//! subscribers on Postgres (SQLite serialises writers), the locks under which shared
//! items are stored, so a fold can move `shared_through` to the newest share row of
//! the block: any item stored later takes a larger id. On Postgres a change to pairs
//! counts and writes in one statement (`fold_and_write`).

use foldhash::{HashMap, HashMapExt, HashSet};
use std::collections::{BTreeMap, BTreeSet};

use sea_orm::sea_query::LockType;
use sea_orm::{
    ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
    Statement, Value,
};

use super::Unread;
use crate::blocks::{BLOCK, block_of};
use crate::bulk::IntRows;
use crate::db::{is_postgres, one_of};
use crate::deliveries::plan::lock_subscribers;
use crate::entities::subscriber;
use crate::error::Result;

/// Share rows a recipient's block may hold after their `shared_through` before a
/// planner folds the recipient.
pub const FOLD_AT: usize = 16;

/// The end of an insert into `inbox_states`: adds the rows' unread and version to a
/// stored pair, sets how far it has folded, and answers the pairs after.
const ADD_TO_PAIRS: &str = "ON CONFLICT (subscriber_id) DO UPDATE SET \
     unread = inbox_states.unread + excluded.unread, \
     version = inbox_states.version + excluded.version, \
     shared_through = excluded.shared_through \
     RETURNING subscriber_id, unread, version";

/// A subscriber's stored pair and the shared items not yet counted in it.
#[derive(Debug, Clone, Copy)]
struct Folding {
    subscriber_id: i64,
    /// As stored.
    unread: i64,
    version: i64,
    /// Shared items meant for the subscriber after `shared_through`.
    pending: i64,
    /// Share rows of their block after `shared_through`, meant for them or not.
    scanned: usize,
    /// How far a fold now may move `shared_through`: the newest of those rows.
    through: i64,
}

impl Folding {
    /// The pair as the subscriber sees it.
    fn pair(&self) -> Unread {
        Unread {
            count: self.unread + self.pending,
            version: self.version + self.pending,
        }
    }

    /// The row that stores this pair with `delta` unread and `moves` versions more
    /// (the pending items included): `[subscriber, unread added, version added, shared
    /// through]`.
    fn stored_with(&self, delta: i64, moves: i64) -> [i64; 4] {
        [
            self.subscriber_id,
            self.pending + delta,
            self.pending + moves,
            self.through,
        ]
    }
}

/// The subscriber's unread pair (zero, version zero, before anything reached them).
pub async fn unread(conn: &impl ConnectionTrait, subscriber_id: i64) -> Result<Unread> {
    Ok(read(conn, &[subscriber_id])
        .await?
        .first()
        .map(Folding::pair)
        .unwrap_or_default())
}

/// Adds each change's unread delta (a subscriber once each) and moves the version by
/// one, folding in their pending shared items; answers the pairs after the change.
/// Takes the subscribers' planning locks first.
pub(crate) async fn bump(
    txn: &impl ConnectionTrait,
    changes: &BTreeMap<i64, i64>,
) -> Result<HashMap<i64, Unread>> {
    let subscribers: Vec<i64> = changes.keys().copied().collect();
    lock_subscribers(txn, &subscribers).await?;
    bump_locked(txn, changes).await
}

/// [`bump`] in `txn`, which holds the subscribers' planning locks already (a planner).
pub(crate) async fn bump_locked(
    txn: &impl ConnectionTrait,
    changes: &BTreeMap<i64, i64>,
) -> Result<HashMap<i64, Unread>> {
    if changes.is_empty() {
        return Ok(HashMap::new());
    }
    if is_postgres(txn) {
        return fold_and_write(txn, changes).await;
    }
    let subscribers: Vec<i64> = changes.keys().copied().collect();
    let rows: Vec<[i64; 4]> = read(txn, &subscribers)
        .await?
        .iter()
        .map(|folding| {
            let delta = changes.get(&folding.subscriber_id).copied().unwrap_or(0);
            folding.stored_with(delta, 1)
        })
        .collect();
    write(txn, &rows).await
}

/// [`bump_locked`] on Postgres as one statement: each subscriber's pending shared items
/// are counted by an index scan of their block's share rows after their
/// `shared_through`, inside the upsert (few for a recipient of broadcasts: planners fold
/// them and their block's other subscribers once [`FOLD_AT`] wait). Reading the pairs
/// first and writing them after, as SQLite does, was a second round trip per batch
/// and cost per-user sends about a fifth of their rate. (On SQLite, counting per
/// subscriber in SQL visits the share rows once per subscriber: slower there.)
async fn fold_and_write(
    txn: &impl ConnectionTrait,
    changes: &BTreeMap<i64, i64>,
) -> Result<HashMap<i64, Unread>> {
    let rows: Vec<[i64; 2]> = changes.iter().map(|(id, delta)| [*id, *delta]).collect();
    let rows = IntRows::new(txn, &rows);
    let sql = format!(
        "INSERT INTO inbox_states (subscriber_id, unread, version, shared_through) \
         SELECT r.a, f.pending + r.b, f.pending + 1, \
         GREATEST(f.through, COALESCE(st.shared_through, 0)) \
         FROM {source} \
         LEFT JOIN inbox_states st ON st.subscriber_id = r.a \
         CROSS JOIN LATERAL (SELECT COUNT(*) FILTER \
         (WHERE sh.bits & (CAST(1 AS BIGINT) << CAST(r.a % {BLOCK} AS INT)) <> 0) AS pending, \
         COALESCE(MAX(sh.item_id), 0) AS through FROM inbox_shares sh \
         WHERE sh.block = r.a / {BLOCK} AND sh.item_id > COALESCE(st.shared_through, 0)) f \
         ORDER BY r.a {ADD_TO_PAIRS}",
        source = rows.source(),
    );
    let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, rows.values([]));
    written(txn, statement).await
}

/// The pairs of the recipients of a shared item just stored for them in `txn`, which
/// holds their planning locks (the item is among their pending ones); folds in those
/// whose block holds [`FOLD_AT`] or more share rows after theirs, and the other
/// subscribers of those blocks who have as many, which leaves every pair as it was.
pub(crate) async fn after_shared(
    txn: &impl ConnectionTrait,
    recipients: &[i64],
) -> Result<HashMap<i64, Unread>> {
    let foldings = read(txn, recipients).await?;
    let due = |folding: &&Folding| folding.scanned >= FOLD_AT;
    let mut folded: Vec<[i64; 4]> = foldings
        .iter()
        .filter(due)
        .map(|folding| folding.stored_with(0, 0))
        .collect();
    // Where recipients are folded, the block's other subscribers may have as many
    // share rows waiting, and nothing else would fold them until they change.
    let busy: BTreeSet<i64> = foldings
        .iter()
        .filter(due)
        .map(|folding| block_of(folding.subscriber_id).0)
        .collect();
    let others = others_in(txn, &busy, recipients).await?;
    folded.extend(
        read(txn, &others)
            .await?
            .iter()
            .filter(due)
            .map(|folding| folding.stored_with(0, 0)),
    );
    // Rows in subscriber order, the order every writer of pairs locks them in.
    folded.sort_unstable_by_key(|row| row[0]);
    write(txn, &folded).await?;
    Ok(foldings
        .iter()
        .map(|folding| (folding.subscriber_id, folding.pair()))
        .collect())
}

/// The subscribers of `blocks` other than `recipients`. The caller holds the blocks'
/// planning locks, which every writer of their pairs takes. On Postgres their rows are
/// key-share locked, so a subscriber deleted meanwhile is either not found or waits
/// for the fold (whose pair write would otherwise fail its foreign key).
async fn others_in(
    conn: &impl ConnectionTrait,
    blocks: &BTreeSet<i64>,
    recipients: &[i64],
) -> Result<Vec<i64>> {
    if blocks.is_empty() {
        return Ok(Vec::new());
    }
    let recipients: HashSet<i64> = recipients.iter().copied().collect();
    let candidates: Vec<i64> = blocks
        .iter()
        .flat_map(|block| block * BLOCK..(block + 1) * BLOCK)
        .filter(|id| !recipients.contains(id))
        .collect();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = subscriber::Entity::find()
        .select_only()
        .column(subscriber::Column::Id)
        .filter(one_of(conn, subscriber::Column::Id, candidates))
        .order_by_asc(subscriber::Column::Id);
    if is_postgres(conn) {
        query = query.lock(LockType::KeyShare);
    }
    Ok(query.into_tuple().all(conn).await?)
}

/// A row of [`read`]'s statement: a stored pair (`kind` 0: subscriber, unread,
/// version, shared through) or a share row (`kind` 1: block, item, bits).
#[derive(Debug, FromQueryResult)]
struct Read {
    kind: i64,
    a: i64,
    b: i64,
    c: i64,
    d: i64,
}

/// The stored pairs of `subscribers` (each once) with their pending shared items; a
/// subscriber with no stored pair reads as zeros.
async fn read(conn: &impl ConnectionTrait, subscribers: &[i64]) -> Result<Vec<Folding>> {
    if subscribers.is_empty() {
        return Ok(Vec::new());
    }
    let backend = conn.get_database_backend();
    let (ids, values) = if backend == DbBackend::Postgres {
        (
            "unnest($1::int8[])",
            vec![Value::from(subscribers.to_vec())],
        )
    } else {
        let list = serde_json::to_string(subscribers).unwrap_or_default();
        ("json_each(?1)", vec![Value::from(list)])
    };
    // Per block, the oldest `shared_through` of the subscribers read (0 for one with
    // no stored pair): the share rows after it are all any of them needs.
    let sql = format!(
        "WITH ids AS (SELECT value AS id FROM {ids} AS value), \
         st AS MATERIALIZED (SELECT subscriber_id, unread, version, shared_through \
         FROM inbox_states WHERE subscriber_id IN (SELECT id FROM ids)), \
         floors AS MATERIALIZED (SELECT ids.id / {BLOCK} AS block, \
         MIN(COALESCE(st.shared_through, 0)) AS floor \
         FROM ids LEFT JOIN st ON st.subscriber_id = ids.id GROUP BY ids.id / {BLOCK}) \
         SELECT CAST(0 AS BIGINT) AS kind, subscriber_id AS a, unread AS b, version AS c, \
         shared_through AS d FROM st \
         UNION ALL \
         SELECT CAST(1 AS BIGINT), sh.block, sh.item_id, sh.bits, CAST(0 AS BIGINT) \
         FROM floors JOIN inbox_shares sh ON sh.block = floors.block \
         AND sh.item_id > floors.floor",
    );
    let rows = Read::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
        .all(conn)
        .await?;
    let mut stored: HashMap<i64, (i64, i64, i64)> = HashMap::new();
    let mut shares: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
    for row in rows {
        if row.kind == 0 {
            stored.insert(row.a, (row.b, row.c, row.d));
        } else {
            shares.entry(row.a).or_default().push((row.b, row.c));
        }
    }
    Ok(subscribers
        .iter()
        .map(|&subscriber_id| {
            let (unread, version, shared_through) =
                stored.get(&subscriber_id).copied().unwrap_or_default();
            let (block, mask) = block_of(subscriber_id);
            let after = shares
                .get(&block)
                .into_iter()
                .flatten()
                .filter(|(item, _)| *item > shared_through);
            let mut folding = Folding {
                subscriber_id,
                unread,
                version,
                pending: 0,
                scanned: 0,
                through: shared_through,
            };
            for (item, bits) in after {
                folding.scanned += 1;
                folding.through = folding.through.max(*item);
                if bits & mask != 0 {
                    folding.pending += 1;
                }
            }
            folding
        })
        .collect())
}

/// Adds each row's unread and version to the subscriber's stored pair and sets how far
/// it has folded, creating the state on first use; answers the pairs after. One
/// statement for any number of rows, in the rows' order (the order Postgres locks
/// them in).
async fn write(txn: &impl ConnectionTrait, rows: &[[i64; 4]]) -> Result<HashMap<i64, Unread>> {
    if rows.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = IntRows::new(txn, rows);
    // The WHERE keeps SQLite's parser from reading `ON CONFLICT` as a join's ON.
    let sql = format!(
        "INSERT INTO inbox_states (subscriber_id, unread, version, shared_through) \
         SELECT r.a, r.b, r.c, r.d FROM {source} WHERE true {ADD_TO_PAIRS}",
        source = rows.source(),
    );
    let statement =
        Statement::from_sql_and_values(txn.get_database_backend(), sql, rows.values([]));
    written(txn, statement).await
}

/// The pairs an upsert of `inbox_states` returned.
async fn written(txn: &impl ConnectionTrait, statement: Statement) -> Result<HashMap<i64, Unread>> {
    Ok(Written::find_by_statement(statement)
        .all(txn)
        .await?
        .into_iter()
        .map(|row| {
            let pair = Unread {
                count: row.unread,
                version: row.version,
            };
            (row.subscriber_id, pair)
        })
        .collect())
}

#[derive(Debug, FromQueryResult)]
struct Written {
    subscriber_id: i64,
    unread: i64,
    version: i64,
}
