//! Transactional sends: a product service names recipients, content (a template or
//! inline), data and channels; Herald checks it, plans the deliveries at once and the
//! worker sends them. An idempotency key makes a retried request return the first
//! answer instead of sending again. The API accepts sends that arrive together in one
//! transaction ([`SendQueue`], [`send_many`]); [`send`] accepts one on its own.

use foldhash::HashMap;
use std::collections::hash_map::Entry;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, QueryFilter, SqlErr,
    TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use validator::Validate;

use crate::channel::ChannelKind;
use crate::db::one_of;
use crate::deliveries::counts::{self, Group};
use crate::deliveries::{DeliveryStatus, PlanSummary, plan_batch};
use crate::entities::by_position::{ByPosition, all_by_position};
use crate::entities::{message, message_request, subscriber, template_version};
use crate::error::{Error, Result};
use crate::rules::KeywordRules;
use crate::rules::engine::{Recipient, RuleSet};
use crate::templates::{TemplateContent, check, store as templates};

mod batch;
mod queue;
mod recall;
mod report;

pub use batch::{SendRequest, send_many};
pub use queue::SendQueue;
pub use recall::{RecallOut, recall, recall_campaign};
pub use report::{DeliveryReport, MessageReport, report};

pub const MAX_RECIPIENTS: usize = 1_000;

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendIn {
    /// External ids of the subscribers to send to.
    #[validate(length(min = 1, max = 1000))]
    pub recipients: Vec<String>,
    /// A stored template; give this or `content`.
    pub template_id: Option<i64>,
    /// The template version; the latest when absent.
    pub template_version: Option<i32>,
    /// Content given inline, checked like a template.
    #[validate(nested)]
    pub content: Option<TemplateContent>,
    /// Values for `data.<key>` in the content.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
    #[validate(length(min = 1, max = 5))]
    pub channels: Vec<ChannelKind>,
    /// What kind of message this is (opt-outs and rules are per category).
    #[validate(length(min = 1, max = 64))]
    pub category: String,
    /// The same key to the same subscriber and channel is sent once within a dedup
    /// rule's window.
    #[validate(length(min = 1, max = 200))]
    pub dedup_key: Option<String>,
    /// Deliveries not made by then end as expired.
    pub expires_at: Option<DateTime<Utc>>,
    /// Channel instances to send through, by name, one per kind (the marketing SMTP
    /// relay rather than the transactional one); the first enabled instance of each
    /// kind otherwise.
    #[serde(default)]
    #[validate(length(max = 6))]
    pub instances: Vec<String>,
}

impl SendIn {
    /// Sent on the inbox channel alone.
    pub fn is_inbox_only(&self) -> bool {
        self.channels.iter().all(|kind| *kind == ChannelKind::Inbox)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Accepted {
    pub id: i64,
    /// Recipients that exist (each counted once).
    pub recipients: usize,
    /// Recipients named in the request that are no subscriber: nothing was sent to
    /// them (the others were sent to).
    pub unknown: Vec<String>,
    /// Deliveries that will be sent now.
    pub queued: u64,
    /// Deliveries stopped by an opt-out, a rule, a list or a missing address.
    pub filtered: u64,
    /// Deliveries waiting for quiet hours to end.
    pub deferred: u64,
}

/// The content to send and where it comes from.
struct Resolved {
    content: TemplateContent,
    template: Option<(i64, i32)>,
}

/// What resolving a batch's requests learnt once and need not learn again: each
/// template version is read once, and each inline content checked once per set of data
/// fields (sends alike in all but their data are the usual batch).
#[derive(Default)]
struct Resolving {
    versions: HashMap<(i64, Option<i32>), template_version::Model>,
    checked: Vec<(TemplateContent, Vec<String>)>,
    /// Choices of instances found valid (a batch of sends usually makes one).
    instance_choices: Vec<Vec<String>>,
}

impl Resolving {
    async fn version(
        &mut self,
        conn: &impl ConnectionTrait,
        id: i64,
        number: Option<i32>,
    ) -> Result<&template_version::Model> {
        Ok(match self.versions.entry((id, number)) {
            Entry::Occupied(read) => read.into_mut(),
            Entry::Vacant(unread) => {
                unread.insert(templates::referenced_version(conn, id, number).await?)
            }
        })
    }

    /// Checks a choice of channel instances, unless done before.
    async fn check_instances(
        &mut self,
        conn: &impl ConnectionTrait,
        names: &[String],
    ) -> Result<()> {
        if names.is_empty() || self.instance_choices.iter().any(|c| c == names) {
            return Ok(());
        }
        crate::channel_instances::check_choice(conn, names).await?;
        self.instance_choices.push(names.to_vec());
        Ok(())
    }

    /// Checks inline `content` against the send's data fields, unless done before.
    fn check(&mut self, content: &TemplateContent, data_keys: Vec<String>) -> Result<()> {
        let seen = self
            .checked
            .iter()
            .any(|(c, keys)| c == content && *keys == data_keys);
        if !seen {
            check(content, &data_keys)?;
            self.checked.push((content.clone(), data_keys));
        }
        Ok(())
    }
}

async fn resolve(
    conn: &impl ConnectionTrait,
    input: &SendIn,
    keywords: &KeywordRules,
    memo: &mut Resolving,
) -> Result<Resolved> {
    let resolved = match (&input.template_id, &input.content) {
        (Some(id), None) => {
            let version = memo.version(conn, *id, input.template_version).await?;
            templates::require_data(version, &input.data)?;
            Resolved {
                content: templates::content_of(version)?,
                template: Some((*id, version.version)),
            }
        }
        (None, Some(content)) => {
            memo.check(content, input.data.keys().cloned().collect())?;
            Resolved {
                content: content.clone(),
                template: None,
            }
        }
        _ => {
            return Err(Error::invalid(
                "template_id",
                "give either template_id or content",
            ));
        }
    };
    templates::require_channels(&resolved.content, &input.channels)?;
    memo.check_instances(conn, &input.instances).await?;
    let texts: Vec<&str> = resolved.content.parts().iter().map(|p| p.source).collect();
    keywords.check("content", &texts, &input.channels, Some(&input.category))?;
    Ok(resolved)
}

/// The subscribers behind the external ids of many requests, in one query, read as
/// `M`: the rules' columns ([`Recipient`]) or whole rows.
async fn named<M: ByPosition<Entity = subscriber::Entity>>(
    conn: &impl ConnectionTrait,
    external_ids: Vec<String>,
) -> Result<Vec<M>> {
    if external_ids.is_empty() {
        return Ok(Vec::new());
    }
    let query = subscriber::Entity::find().filter(one_of(
        conn,
        subscriber::Column::ExternalId,
        external_ids,
    ));
    Ok(all_by_position(conn, query).await?)
}

/// The recipients behind the external ids of many requests, by external id.
async fn recipients_named(
    conn: &impl ConnectionTrait,
    external_ids: Vec<String>,
) -> Result<HashMap<String, Recipient>> {
    let found: Vec<Recipient> = named(conn, external_ids).await?;
    Ok(found
        .into_iter()
        .map(|r| (r.external_id.clone(), r))
        .collect())
}

/// The recipients among `external_ids` that exist, in id order without repeats, and
/// the external ids that name no subscriber, in the request's order. A send none of
/// whose recipients exist is refused, naming the first.
fn recipients_of(
    known: &HashMap<String, Recipient>,
    external_ids: &[String],
) -> Result<Recipients> {
    let mut found = Vec::with_capacity(external_ids.len());
    let mut unknown: Vec<String> = Vec::new();
    for id in external_ids {
        match known.get(id) {
            Some(recipient) => found.push(recipient.clone()),
            None if !unknown.contains(id) => unknown.push(id.clone()),
            None => {}
        }
    }
    if found.is_empty()
        && let Some(first) = external_ids.first()
    {
        return Err(Error::invalid(
            "recipients[0]",
            format!("no subscriber `{first}`"),
        ));
    }
    found.sort_by_key(|r| r.id);
    found.dedup_by_key(|r| r.id);
    Ok(Recipients { found, unknown })
}

/// A send's recipients, as [`recipients_of`] sorts them.
struct Recipients {
    found: Vec<Recipient>,
    unknown: Vec<String>,
}

async fn recipients(conn: &impl ConnectionTrait, external_ids: &[String]) -> Result<Recipients> {
    let known = recipients_named(conn, external_ids.to_vec()).await?;
    recipients_of(&known, external_ids)
}

/// Checks that need no database.
fn precheck(input: &SendIn) -> Result<()> {
    input.validate()?;
    if input.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(Error::invalid("expires_at", "must be in the future"));
    }
    Ok(())
}

/// The message row for an accepted send.
fn new_message(sender: &str, input: &SendIn, resolved: &Resolved) -> message::ActiveModel {
    // The row is answered as built, not read back.
    let now = crate::db::as_stored(Utc::now());
    message::ActiveModel {
        kind: Set("transactional".to_owned()),
        campaign_id: Set(None),
        category: Set(input.category.clone()),
        template_id: Set(resolved.template.map(|t| t.0)),
        template_version: Set(resolved.template.map(|t| t.1)),
        content: Set(match resolved.template {
            Some(_) => None,
            None => Some(serde_json::to_value(&resolved.content).unwrap_or_default()),
        }),
        data: Set(Value::Object(input.data.clone())),
        channels: Set(json!(input.channels)),
        instances: Set((!input.instances.is_empty()).then(|| json!(input.instances))),
        sender: Set(sender.to_owned()),
        dedup_key: Set(input.dedup_key.clone()),
        expires_at: Set(input.expires_at),
        dispatched_at: Set(Some(now)),
        recalled_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
}

fn accepted(message_id: i64, recipients: &Recipients, planned: PlanSummary) -> Accepted {
    Accepted {
        id: message_id,
        recipients: recipients.found.len(),
        unknown: recipients.unknown.clone(),
        queued: planned.queued,
        filtered: planned.filtered,
        deferred: planned.deferred,
    }
}

fn digest(input: &SendIn) -> String {
    let body = serde_json::to_vec(input).unwrap_or_default();
    hex::encode(Sha256::digest(body))
}

/// Accepts a send from `sender` (`api_key:<id>` or `operator:<id>`) on its own (see
/// [`send_many`] for sends that arrive together). With a key, a repeat of the same
/// request returns the first message (and plans whatever a crash left unplanned); the
/// same key with a different request is refused.
pub async fn send<C>(
    db: &C,
    sender: &str,
    idempotency_key: Option<&str>,
    input: SendIn,
) -> Result<Accepted>
where
    C: ConnectionTrait + TransactionTrait,
{
    precheck(&input)?;
    let request_digest = digest(&input);
    if let Some(key) = idempotency_key
        && let Some(earlier) =
            message_request::Entity::find_by_id((sender.to_owned(), key.to_owned()))
                .one(db)
                .await?
    {
        return repeat(db, &earlier, &request_digest, &input).await;
    }
    let keywords = KeywordRules::load(db).await?;
    let resolved = resolve(db, &input, &keywords, &mut Resolving::default()).await?;
    let recipients = recipients(db, &input.recipients).await?;

    let txn = crate::db::begin_write(db).await?;
    let message = new_message(sender, &input, &resolved).insert(&txn).await?;
    if let Some(key) = idempotency_key {
        let recorded = message_request::ActiveModel {
            sender: Set(sender.to_owned()),
            idempotency_key: Set(key.to_owned()),
            request_digest: Set(request_digest.clone()),
            message_id: Set(message.id),
            created_at: Set(Utc::now()),
        }
        .insert(&txn)
        .await;
        if let Err(error) = recorded {
            // Another request with this key won the race: answer as its repeat.
            if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
                txn.rollback().await?;
                let earlier =
                    message_request::Entity::find_by_id((sender.to_owned(), key.to_owned()))
                        .one(db)
                        .await?
                        .ok_or(Error::NotFound { entity: "message" })?;
                return repeat(db, &earlier, &request_digest, &input).await;
            }
            return Err(error.into());
        }
    }
    // The message and its deliveries commit together: an accepted message is planned.
    // It is new, so the plan's own tally is the answer.
    let rules = RuleSet::load_for(&txn, recipients.found.len()).await?;
    let planned = plan_batch(&txn, &rules, &message, &recipients.found, Utc::now()).await?;
    txn.commit().await?;
    Ok(accepted(message.id, &recipients, planned))
}

async fn repeat<C>(
    db: &C,
    earlier: &message_request::Model,
    request_digest: &str,
    input: &SendIn,
) -> Result<Accepted>
where
    C: ConnectionTrait + TransactionTrait,
{
    if earlier.request_digest != request_digest {
        return Err(Error::invalid(
            "Idempotency-Key",
            "was used before with a different request",
        ));
    }
    let message = get(db, earlier.message_id).await?;
    let recipients = recipients(db, &input.recipients).await?;
    plan(db, &message, &recipients).await
}

/// Plans the message (again: already planned deliveries are kept) and counts them.
async fn plan<C>(db: &C, message: &message::Model, recipients: &Recipients) -> Result<Accepted>
where
    C: ConnectionTrait + TransactionTrait,
{
    let rules = RuleSet::load_for(db, recipients.found.len()).await?;
    plan_batch(db, &rules, message, &recipients.found, Utc::now()).await?;
    let groups = counts::of_message(db, message.id).await?;
    let count = |status: DeliveryStatus| {
        groups
            .iter()
            .filter(|group| group.is(status))
            .map(Group::counted)
            .sum::<u64>()
    };
    let total: u64 = groups.iter().map(Group::counted).sum();
    let (filtered, deferred) = (
        count(DeliveryStatus::Filtered),
        count(DeliveryStatus::Deferred),
    );
    let planned = PlanSummary {
        queued: total - filtered - deferred,
        filtered,
        deferred,
        already_planned: 0,
    };
    Ok(accepted(message.id, recipients, planned))
}

pub async fn get(conn: &impl ConnectionTrait, id: i64) -> Result<message::Model> {
    message::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(Error::NotFound { entity: "message" })
}
