//! Writing subscribers: one at a time (the REST upsert) and in batches (imports).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QuerySelect, Statement, TransactionSession, TransactionTrait,
};
use serde_json::json;

use super::input::SubscriberIn;
use crate::audit::{self, Actor, AuditContext, Change};
use crate::db::is_postgres;
use crate::entities::subscriber::{self, Column};
use crate::entities::subscriber_endpoint;
use crate::error::{Error, Result};

fn active_model(
    external_id: &str,
    input: SubscriberIn,
    now: DateTime<Utc>,
) -> subscriber::ActiveModel {
    subscriber::ActiveModel {
        external_id: Set(external_id.to_owned()),
        email: Set(input.email),
        phone: Set(input.phone),
        timezone: Set(input.timezone),
        locale: Set(input.locale),
        tags: Set(json!(input.tags)),
        attributes: Set(serde_json::Value::Object(input.attributes)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// `ON CONFLICT (external_id) DO UPDATE` of every profile column but `created_at`.
fn upsert_clause() -> OnConflict {
    OnConflict::column(Column::ExternalId)
        .update_columns([
            Column::Email,
            Column::Phone,
            Column::Timezone,
            Column::Locale,
            Column::Tags,
            Column::Attributes,
            Column::UpdatedAt,
        ])
        .to_owned()
}

pub async fn find(conn: &impl ConnectionTrait, external_id: &str) -> Result<subscriber::Model> {
    subscriber::Entity::find()
        .filter(Column::ExternalId.eq(external_id))
        .one(conn)
        .await?
        .ok_or(Error::NotFound {
            entity: "subscriber",
        })
}

/// Subscriber writes by people are audited; the high-volume profile sync of product
/// services (API keys) is not, except deletions and imports.
fn audits_profile_writes(actor: &Actor) -> bool {
    !matches!(actor, Actor::ApiKey { .. })
}

/// Creates or replaces a subscriber's profile. Returns the stored row and whether it is new.
pub async fn upsert(
    conn: &impl TransactionTrait,
    ctx: &AuditContext,
    external_id: &str,
    input: SubscriberIn,
) -> Result<(subscriber::Model, bool)> {
    let input = input.into_valid()?;
    let changed_fields = changed_field_names(&input);
    let txn = crate::db::begin_write(conn).await?;
    let existed = subscriber::Entity::find()
        .filter(Column::ExternalId.eq(external_id))
        .one(&txn)
        .await?
        .is_some();
    subscriber::Entity::insert(active_model(external_id, input, Utc::now()))
        .on_conflict(upsert_clause())
        .exec_without_returning(&txn)
        .await?;
    let stored = find(&txn, external_id).await?;
    if audits_profile_writes(&ctx.actor) {
        audit::record(
            &txn,
            ctx,
            Change {
                action: if existed {
                    "subscriber.update"
                } else {
                    "subscriber.create"
                },
                target_kind: "subscriber",
                target_id: Some(external_id.to_owned()),
                before: None,
                after: Some(json!({ "fields": changed_fields })),
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok((stored, !existed))
}

/// Names of the fields a write set, for the audit log (values are personal data).
fn changed_field_names(input: &SubscriberIn) -> Vec<&'static str> {
    let mut names = Vec::new();
    for (present, name) in [
        (input.email.is_some(), "email"),
        (input.phone.is_some(), "phone"),
        (input.timezone.is_some(), "timezone"),
        (input.locale.is_some(), "locale"),
        (!input.tags.is_empty(), "tags"),
        (!input.attributes.is_empty(), "attributes"),
    ] {
        if present {
            names.push(name);
        }
    }
    names
}

/// Upserts many already-validated profiles in one statement. Within `rows` an external
/// id must appear once (Postgres refuses to update one row twice in a statement).
pub async fn upsert_batch(
    conn: &impl ConnectionTrait,
    rows: Vec<(String, SubscriberIn)>,
) -> Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let count = rows.len() as u64;
    if is_postgres(conn) {
        upsert_batch_unnest(conn, rows).await?;
        return Ok(count);
    }
    let now = Utc::now();
    let models = rows
        .into_iter()
        .map(|(external_id, input)| active_model(&external_id, input, now));
    subscriber::Entity::insert_many(models)
        .on_conflict(upsert_clause())
        .exec_without_returning(conn)
        .await?;
    Ok(count)
}

/// Postgres: one array per column and `UNNEST`, so a batch is 8 bound parameters instead
/// of 9 per row; this is what makes million-row imports fast. Arrays cannot carry NULL
/// elements through the driver layer, so absent values travel as '' and `NULLIF` restores
/// them (validation never accepts an empty email, phone, zone or locale).
async fn upsert_batch_unnest(
    conn: &impl ConnectionTrait,
    rows: Vec<(String, SubscriberIn)>,
) -> Result<()> {
    const SQL: &str = "INSERT INTO subscribers \
        (external_id, email, phone, timezone, locale, tags, attributes, created_at, updated_at) \
        SELECT u.external_id, NULLIF(u.email, ''), NULLIF(u.phone, ''), NULLIF(u.timezone, ''), \
               NULLIF(u.locale, ''), u.tags::jsonb, u.attributes::jsonb, $8, $8 \
        FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) \
             AS u(external_id, email, phone, timezone, locale, tags, attributes) \
        ON CONFLICT (external_id) DO UPDATE SET \
            email = EXCLUDED.email, phone = EXCLUDED.phone, timezone = EXCLUDED.timezone, \
            locale = EXCLUDED.locale, tags = EXCLUDED.tags, attributes = EXCLUDED.attributes, \
            updated_at = EXCLUDED.updated_at";
    let capacity = rows.len();
    let mut columns: [Vec<String>; 7] = std::array::from_fn(|_| Vec::with_capacity(capacity));
    for (external_id, input) in rows {
        let tags = serde_json::to_string(&input.tags).unwrap_or_else(|_| "[]".into());
        let attributes = serde_json::to_string(&input.attributes).unwrap_or_else(|_| "{}".into());
        let values = [
            external_id,
            input.email.unwrap_or_default(),
            input.phone.unwrap_or_default(),
            input.timezone.unwrap_or_default(),
            input.locale.unwrap_or_default(),
            tags,
            attributes,
        ];
        for (column, value) in columns.iter_mut().zip(values) {
            column.push(value);
        }
    }
    let mut values: Vec<sea_orm::Value> = columns.into_iter().map(sea_orm::Value::from).collect();
    values.push(Utc::now().into());
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        SQL,
        values,
    ))
    .await?;
    Ok(())
}

/// Deletes a subscriber and the personal data Herald holds on them (their fields,
/// endpoints, preferences and inbox). Their deliveries stay in the log, anonymised (see
/// [`crate::deliveries::erasure`]): reports keep their counts and auditors their trail.
pub async fn delete(
    conn: &impl TransactionTrait,
    ctx: &AuditContext,
    external_id: &str,
) -> Result<()> {
    let txn = crate::db::begin_write(conn).await?;
    let found = subscriber::Entity::find()
        .filter(Column::ExternalId.eq(external_id))
        .one(&txn)
        .await?
        .ok_or(Error::NotFound {
            entity: "subscriber",
        })?;
    let mut identifiers: Vec<String> = subscriber_endpoint::Entity::find()
        .select_only()
        .column(subscriber_endpoint::Column::Address)
        .filter(subscriber_endpoint::Column::SubscriberId.eq(found.id))
        .into_tuple()
        .all(&txn)
        .await?;
    identifiers.extend(
        [Some(found.external_id), found.email, found.phone]
            .into_iter()
            .flatten(),
    );
    crate::deliveries::erasure::anonymise(&txn, found.id, &identifiers, Utc::now()).await?;
    // Endpoints, preferences, the inbox and receipts go with the row; the deliveries
    // stay, their shared entries as rows, and the bitmaps of shared items forget them.
    crate::deliveries::shared::keep_as_rows(&txn, found.id).await?;
    crate::inbox::shared::forget(&txn, found.id).await?;
    subscriber::Entity::delete_by_id(found.id)
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        ctx,
        Change {
            action: "subscriber.delete",
            target_kind: "subscriber",
            target_id: Some(external_id.to_owned()),
            before: None,
            after: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
