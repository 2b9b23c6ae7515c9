//! Block and allow lists: entries for a subscriber, an email, an email domain, a phone
//! number or an endpoint address, global or for one channel, with a reason and an
//! optional expiry. Values are normalised on the way in so matching is exact.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::AsyncRead;
use utoipa::ToSchema;
use validator::Validate;

use crate::audit::{self, AuditContext, Change};
use crate::channel::ChannelKind;
use crate::entities::list_entry::{self, Column};
use crate::error::{Error, Result};
use crate::subscribers::{SubscriberIn, parse_external_id};

const IMPORT_BATCH: usize = 1_000;
const MAX_REPORTED: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListName {
    /// Never deliver to a match.
    Block,
    /// Deliver to a match even when a block entry also matches.
    Allow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Subscriber,
    Email,
    EmailDomain,
    Phone,
    Endpoint,
}

impl ListName {
    pub fn as_str(self) -> &'static str {
        match self {
            ListName::Block => "block",
            ListName::Allow => "allow",
        }
    }
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Subscriber => "subscriber",
            EntryKind::Email => "email",
            EntryKind::EmailDomain => "email_domain",
            EntryKind::Phone => "phone",
            EntryKind::Endpoint => "endpoint",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryIn {
    pub list: ListName,
    pub kind: EntryKind,
    #[validate(length(min = 1, max = 4096))]
    pub value: String,
    /// Only this channel; every channel when absent.
    pub channel: Option<ChannelKind>,
    #[validate(length(max = 500))]
    #[serde(default)]
    pub reason: String,
    /// The entry stops applying at this instant.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The value as stored: lower-cased emails and domains, checked ids and numbers.
pub fn normalise(kind: EntryKind, raw: &str) -> Result<String> {
    let value = raw.trim();
    let invalid = |message: &str| Error::invalid("value", message);
    match kind {
        EntryKind::Subscriber => Ok(parse_external_id(value)
            .map_err(|_| invalid("is not an external id"))?
            .to_owned()),
        EntryKind::Email => {
            let probe = SubscriberIn {
                email: Some(value.to_owned()),
                ..Default::default()
            };
            probe
                .into_valid()
                .map_err(|_| invalid("is not an email address"))?;
            Ok(value.to_lowercase())
        }
        EntryKind::EmailDomain => {
            let domain = value.trim_start_matches('@').to_lowercase();
            let labels_ok = domain.split('.').count() >= 2
                && domain.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label.chars().all(|c| c.is_alphanumeric() || c == '-')
                });
            if labels_ok {
                Ok(domain)
            } else {
                Err(invalid("is not a domain such as example.com"))
            }
        }
        EntryKind::Phone => {
            let probe = SubscriberIn {
                phone: Some(value.to_owned()),
                ..Default::default()
            };
            probe
                .into_valid()
                .map_err(|_| invalid("must be in E.164 form, e.g. +4915112345678"))?;
            Ok(value.to_owned())
        }
        EntryKind::Endpoint => Ok(value.to_owned()),
    }
}

fn active_model(input: EntryIn, created_by: Option<i64>) -> Result<list_entry::ActiveModel> {
    input.validate()?;
    if input.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(Error::invalid("expires_at", "must be in the future"));
    }
    Ok(list_entry::ActiveModel {
        value: Set(normalise(input.kind, &input.value)?),
        list: Set(input.list.as_str().to_owned()),
        kind: Set(input.kind.as_str().to_owned()),
        channel: Set(input.channel.map(|c| c.as_str().to_owned())),
        reason: Set(input.reason),
        expires_at: Set(input.expires_at),
        created_by: Set(created_by),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
}

pub async fn create(
    conn: &impl TransactionTrait,
    ctx: &AuditContext,
    input: EntryIn,
) -> Result<list_entry::Model> {
    let model = active_model(input, ctx.actor.operator_id())?;
    let txn = crate::db::begin_write(conn).await?;
    let stored = model.insert(&txn).await?;
    audit::record(&txn, ctx, Change {
        action: "list_entry.create",
        target_kind: "list_entry",
        target_id: Some(stored.id.to_string()),
        before: None,
        after: Some(json!({ "list": stored.list, "kind": stored.kind, "channel": stored.channel, "reason": stored.reason })),
    })
    .await?;
    txn.commit().await?;
    Ok(stored)
}

#[derive(Debug, Default, Clone)]
pub struct EntryFilter {
    pub list: Option<ListName>,
    pub kind: Option<EntryKind>,
    pub value: Option<String>,
}

/// Entries in id order, expired ones included (they show until deleted).
pub async fn list(
    conn: &impl ConnectionTrait,
    filter: &EntryFilter,
    after_id: Option<i64>,
    limit: u64,
) -> Result<Vec<list_entry::Model>> {
    let mut query = list_entry::Entity::find();
    if let Some(list) = filter.list {
        query = query.filter(Column::List.eq(list.as_str()));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(Column::Kind.eq(kind.as_str()));
    }
    if let Some(value) = &filter.value {
        query = query.filter(
            Column::Value
                .eq(value.trim().to_lowercase())
                .or(Column::Value.eq(value.trim())),
        );
    }
    if let Some(id) = after_id {
        query = query.filter(Column::Id.gt(id));
    }
    Ok(query
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

pub async fn delete(conn: &impl TransactionTrait, ctx: &AuditContext, id: i64) -> Result<()> {
    let txn = crate::db::begin_write(conn).await?;
    let found = list_entry::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(Error::NotFound {
            entity: "list entry",
        })?;
    list_entry::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        ctx,
        Change {
            action: "list_entry.delete",
            target_kind: "list_entry",
            target_id: Some(id.to_string()),
            before: Some(
                json!({ "list": found.list, "kind": found.kind, "channel": found.channel }),
            ),
            after: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ListImportReport {
    pub received: u64,
    pub imported: u64,
    pub failed: u64,
    /// Refused rows (first 1,000) with their 1-based line and field.
    pub errors: Vec<ListImportError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListImportError {
    pub line: u64,
    pub field: String,
    pub message: String,
}

/// Imports CSV with a header naming `list`, `kind`, `value` and optionally `channel`,
/// `reason`, `expires_at`. Valid rows are stored in batches; bad rows are reported.
pub async fn import<C, R>(conn: &C, ctx: &AuditContext, reader: R) -> Result<ListImportReport>
where
    C: ConnectionTrait + TransactionTrait,
    R: AsyncRead + Unpin + Send,
{
    let mut csv = csv_async::AsyncDeserializer::from_reader(reader);
    let mut records = csv.deserialize::<EntryIn>();
    let mut report = ListImportReport::default();
    let mut batch = Vec::with_capacity(IMPORT_BATCH);
    while let Some(next) = records.next().await {
        if let Err(e) = &next
            && let csv_async::ErrorKind::Io(io) = e.kind()
        {
            return Err(Error::Upload(io.to_string()));
        }
        report.received += 1;
        let line = match &next {
            Ok(_) => report.received + 1,
            Err(e) => e.position().map_or(report.received + 1, |p| p.line()),
        };
        let parsed = next
            .map_err(|e| Error::invalid("row", e.to_string()))
            .and_then(|row| active_model(row, ctx.actor.operator_id()));
        match parsed {
            Ok(model) => batch.push(model),
            Err(error) => {
                report.failed += 1;
                if report.errors.len() < MAX_REPORTED {
                    let (field, message) = match error {
                        Error::Invalid { field, message } => (field, message),
                        other => ("row".to_owned(), other.to_string()),
                    };
                    report.errors.push(ListImportError {
                        line,
                        field,
                        message,
                    });
                }
            }
        }
        if batch.len() >= IMPORT_BATCH {
            report.imported += insert_batch(conn, std::mem::take(&mut batch)).await?;
        }
    }
    report.imported += insert_batch(conn, batch).await?;
    audit::record(conn, ctx, Change {
        action: "list_entry.import",
        target_kind: "list_entry",
        target_id: None,
        before: None,
        after: Some(json!({ "received": report.received, "imported": report.imported, "failed": report.failed })),
    })
    .await?;
    Ok(report)
}

async fn insert_batch(
    conn: &impl ConnectionTrait,
    batch: Vec<list_entry::ActiveModel>,
) -> Result<u64> {
    if batch.is_empty() {
        return Ok(0);
    }
    let count = batch.len() as u64;
    list_entry::Entity::insert_many(batch)
        .exec_without_returning(conn)
        .await?;
    Ok(count)
}
