//! Accepting many sends at once: requests that arrive together share their reads and
//! commit in one write transaction, so a busy API pays the per-statement and
//! per-commit costs once per batch instead of once per message.
//!
//! Each request still gets its own answer: a request the checks refuse is answered
//! with its error and does not hold back the others. Requests whose answer may be an
//! earlier message (an idempotency key seen before, or twice in the batch) are
//! answered one by one after the batch, and so is the whole batch if its write fails:
//! [`send`] handles those cases, and an error then belongs to the request that caused
//! it.
//!
//! The batch's inbox deliveries that may go now are stored in the same transaction
//! (see [`crate::inbox::deliver`]) and announced on the bus once it commits.

use foldhash::{HashMap, HashSet, HashSetExt};
use std::sync::Arc;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
    TransactionSession, TransactionTrait, TryIntoModel,
};

use super::{
    Accepted, Recipients, Resolved, Resolving, SendIn, accepted, digest, named, new_message,
    precheck, recipients_named, recipients_of, resolve, send,
};
use crate::bulk::{insert_all, insert_all_returning_columns};
use crate::channel::ChannelKind;
use crate::deliveries::{NewMessage, plan_messages};
use crate::entities::{message, message_request, subscriber};
use crate::error::Result;
use crate::inbox::Bus;
use crate::inbox::deliver::{Finished, Planned, store_now};
use crate::rules::revision::{LoadedRules, RulesCache};
use crate::templates::TemplateContent;
use crate::templates::render::CompiledContent;

/// A message row's key, as its insert answers it.
#[derive(FromQueryResult)]
struct MessageId {
    id: i64,
}

/// One send as the API received it.
#[derive(Debug, Clone)]
pub struct SendRequest {
    /// `api_key:<id>` or `operator:<id>`.
    pub sender: String,
    pub idempotency_key: Option<String>,
    pub input: SendIn,
}

/// A request that passed every check and will be written with the batch.
struct Ready {
    index: usize,
    resolved: Resolved,
    recipients: Recipients,
    /// Its content, compiled when it goes to the inbox.
    inbox: Option<Arc<CompiledContent>>,
}

/// The batch's contents, each compiled once.
#[derive(Default)]
struct Compiled(Vec<(TemplateContent, Arc<CompiledContent>)>);

impl Compiled {
    fn get(&mut self, content: &TemplateContent) -> Result<Arc<CompiledContent>> {
        if let Some((_, compiled)) = self.0.iter().find(|(c, _)| c == content) {
            return Ok(Arc::clone(compiled));
        }
        let compiled = Arc::new(CompiledContent::compile(content)?);
        self.0.push((content.clone(), Arc::clone(&compiled)));
        Ok(compiled)
    }
}

/// The requests ready to write, the whole rows of the recipients whose inbox item is
/// rendered for each of them, by id, and the rules they were checked against.
struct Prepared {
    ready: Vec<Ready>,
    subscribers: HashMap<i64, subscriber::Model>,
    rules: LoadedRules,
}

/// What accepting a batch did.
#[derive(Debug)]
pub struct Sent {
    /// One per request, in the requests' order.
    pub answers: Vec<Result<Accepted>>,
    /// Deliveries were left for a worker to send.
    pub queued: bool,
}

/// Accepts `requests` together, announcing the inbox items it stored on `bus`. The
/// rules come from `rules`, read again only when they changed.
pub async fn send_many<C>(db: &C, bus: &Bus, rules: &RulesCache, requests: Vec<SendRequest>) -> Sent
where
    C: ConnectionTrait + TransactionTrait,
{
    let mut queued = false;
    let mut answers: Vec<Option<Result<Accepted>>> = requests.iter().map(|_| None).collect();
    let mut alone = Vec::new();
    let mut pending = Vec::with_capacity(requests.len());
    for (index, request) in requests.iter().enumerate() {
        match precheck(&request.input) {
            Ok(()) => pending.push(index),
            Err(error) => answers[index] = Some(Err(error)),
        }
    }
    match keys_answered_alone(db, &requests, &pending).await {
        Ok(repeats) => pending.retain(|index| {
            let repeat = repeats.contains(index);
            if repeat {
                alone.push(*index);
            }
            !repeat
        }),
        Err(_) => alone.append(&mut pending),
    }
    match prepare(db, rules, &requests, pending, &mut answers).await {
        Ok(Some(prepared)) if !prepared.ready.is_empty() => {
            match write(db, &requests, &prepared).await {
                Ok((written, finished)) => {
                    bus.stored(&finished.stored);
                    let planned: u64 = written.iter().map(|a| a.queued).sum();
                    queued |= planned > finished.deliveries;
                    for (ready, answer) in prepared.ready.iter().zip(written) {
                        answers[ready.index] = Some(Ok(answer));
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, requests = prepared.ready.len(), "batched send failed; accepting its requests one by one");
                    alone.extend(prepared.ready.iter().map(|r| r.index));
                }
            }
        }
        Ok(_) => {}
        Err(pending) => alone.extend(pending),
    }
    alone.sort_unstable();
    for index in alone {
        let request = &requests[index];
        let answer = send(
            db,
            &request.sender,
            request.idempotency_key.as_deref(),
            request.input.clone(),
        )
        .await;
        // Its deliveries, inbox ones too, are the worker's.
        queued |= answer.as_ref().is_ok_and(|a| a.queued > 0);
        answers[index] = Some(answer);
    }
    Sent {
        answers: answers
            .into_iter()
            .map(|answer| answer.expect("every request is answered"))
            .collect(),
        queued,
    }
}

/// The requests (among `pending`) whose idempotency key was recorded before, or is
/// repeated within the batch after its first use: their answer may be an earlier
/// message.
async fn keys_answered_alone(
    conn: &impl ConnectionTrait,
    requests: &[SendRequest],
    pending: &[usize],
) -> Result<HashSet<usize>> {
    let keyed: Vec<(usize, (&str, &str))> = pending
        .iter()
        .filter_map(|&index| {
            let request = &requests[index];
            let key = request.idempotency_key.as_deref()?;
            Some((index, (request.sender.as_str(), key)))
        })
        .collect();
    if keyed.is_empty() {
        return Ok(HashSet::new());
    }
    let pairs = keyed
        .iter()
        .map(|(_, (sender, key))| Expr::tuple([Expr::value(*sender), Expr::value(*key)]));
    let recorded: HashSet<(String, String)> = message_request::Entity::find()
        .select_only()
        .columns([
            message_request::Column::Sender,
            message_request::Column::IdempotencyKey,
        ])
        .filter(
            Expr::tuple([
                Expr::col(message_request::Column::Sender),
                Expr::col(message_request::Column::IdempotencyKey),
            ])
            .is_in(pairs),
        )
        .into_tuple()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let mut first_uses = HashSet::new();
    Ok(keyed
        .into_iter()
        .filter(|(_, (sender, key))| {
            recorded.contains(&((*sender).to_owned(), (*key).to_owned()))
                || !first_uses.insert((*sender, *key))
        })
        .map(|(index, _)| index)
        .collect())
}

/// Resolves content and recipients for every pending request, answering the ones the
/// checks refuse (`None` when none is pending). A database error leaves every pending
/// request to be answered alone.
async fn prepare(
    conn: &impl ConnectionTrait,
    rules: &RulesCache,
    requests: &[SendRequest],
    pending: Vec<usize>,
    answers: &mut [Option<Result<Accepted>>],
) -> std::result::Result<Option<Prepared>, Vec<usize>> {
    if pending.is_empty() {
        return Ok(None);
    }
    let Ok(rules) = rules.current(conn).await else {
        return Err(pending);
    };
    let mut memo = Resolving::default();
    let mut compiled = Compiled::default();
    let mut contents = Vec::with_capacity(pending.len());
    for index in pending {
        let input = &requests[index].input;
        let checked = resolve(conn, input, &rules.keywords, &mut memo)
            .await
            .and_then(|resolved| {
                let inbox = input
                    .channels
                    .contains(&ChannelKind::Inbox)
                    .then(|| compiled.get(&resolved.content))
                    .transpose()?;
                Ok((index, resolved, inbox))
            });
        match checked {
            Ok(content) => contents.push(content),
            Err(error) => answers[index] = Some(Err(error)),
        }
    }
    let still_pending = || contents.iter().map(|(index, ..)| *index).collect();
    let names_of = |index: &usize| &requests[*index].input.recipients;
    let names: HashSet<&String> = contents
        .iter()
        .flat_map(|(index, ..)| names_of(index))
        .collect();
    let Ok(known) = recipients_named(conn, names.into_iter().cloned().collect()).await else {
        return Err(still_pending());
    };
    // Inbox content that reads the subscriber is rendered here, for each recipient.
    let rendered_per_recipient: HashSet<&String> = contents
        .iter()
        .filter(|(_, _, inbox)| inbox.as_ref().is_some_and(|c| !c.inbox_same_for_all()))
        .flat_map(|(index, ..)| names_of(index))
        .collect();
    let whole_rows =
        named::<subscriber::Model>(conn, rendered_per_recipient.into_iter().cloned().collect());
    let Ok(subscribers) = whole_rows.await else {
        return Err(still_pending());
    };
    let subscribers = subscribers.into_iter().map(|s| (s.id, s)).collect();
    let mut ready = Vec::with_capacity(contents.len());
    for (index, resolved, inbox) in contents {
        match recipients_of(&known, &requests[index].input.recipients) {
            Ok(recipients) => ready.push(Ready {
                index,
                resolved,
                recipients,
                inbox,
            }),
            Err(error) => answers[index] = Some(Err(error)),
        }
    }
    Ok(Some(Prepared {
        ready,
        subscribers,
        rules,
    }))
}

/// Writes the ready requests' messages, idempotency records and deliveries, and stores
/// the inbox items that may go now, in one transaction.
async fn write<C>(
    db: &C,
    requests: &[SendRequest],
    prepared: &Prepared,
) -> Result<(Vec<Accepted>, Finished)>
where
    C: ConnectionTrait + TransactionTrait,
{
    let ready = &prepared.ready;
    let txn = crate::db::begin_write(db).await?;
    // While the kill switch stops all sending, inbox deliveries wait queued too.
    let halted = crate::halts::stops_everything(&txn).await?;
    let rows: Vec<message::ActiveModel> = ready
        .iter()
        .map(|r| {
            let request = &requests[r.index];
            new_message(&request.sender, &request.input, &r.resolved)
        })
        .collect();
    // Ids come from one statement in the rows' order (SQLite's write lock, Postgres's
    // sequence called row by row), so in id order they match the rows. Only the ids are
    // read back: the rest of each message is what was just written.
    let mut ids: Vec<MessageId> =
        insert_all_returning_columns(&txn, rows.clone(), &[], &[message::Column::Id]).await?;
    ids.sort_unstable_by_key(|row| row.id);
    let messages = rows
        .into_iter()
        .zip(ids)
        .map(|(mut row, MessageId { id })| {
            row.id = Set(id);
            row.try_into_model()
        })
        .collect::<std::result::Result<Vec<message::Model>, _>>()?;

    let now = Utc::now();
    let records: Vec<message_request::ActiveModel> = ready
        .iter()
        .zip(&messages)
        .filter_map(|(r, message)| {
            let request = &requests[r.index];
            Some(message_request::ActiveModel {
                sender: Set(request.sender.clone()),
                idempotency_key: Set(request.idempotency_key.clone()?),
                request_digest: Set(digest(&request.input)),
                message_id: Set(message.id),
                created_at: Set(now),
            })
        })
        .collect();
    insert_all(&txn, records, &[]).await?;

    let new: Vec<NewMessage<'_>> = ready
        .iter()
        .zip(&messages)
        .map(|(r, message)| NewMessage {
            message,
            recipients: &r.recipients.found,
            stores_inbox: r.inbox.is_some() && !halted,
        })
        .collect();
    let plans = plan_messages(&txn, &prepared.rules.rules, &new, now).await?;
    let inbox: Vec<Planned<'_>> = ready
        .iter()
        .zip(&messages)
        .filter(|_| !halted)
        .filter_map(|(r, message)| {
            Some(Planned {
                message,
                content: r.inbox.as_ref()?,
            })
        })
        .collect();
    let finished = store_now(
        &txn,
        &inbox,
        &plans.inbox_sends,
        &prepared.subscribers,
        &prepared.rules.keywords,
        now,
    )
    .await?;
    txn.commit().await?;
    let answers = messages
        .iter()
        .zip(ready)
        .zip(plans.summaries)
        .map(|((message, r), planned)| accepted(message.id, &r.recipients, planned))
        .collect();
    Ok((answers, finished))
}
