//! Registering, changing and removing event endpoints, audited. The signing secret is
//! made here, shown once at registration and kept sealed.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionSession,
    TransactionTrait,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;
use utoipa::ToSchema;
use validator::Validate;

use super::EventType;
use super::outbox::EVERY_CHANNEL;
use crate::audit::{self, AuditContext, Change};
use crate::channel::ChannelKind;
use crate::entities::{event_batch, event_endpoint, event_endpoint_filter, event_outbox};
use crate::error::{Error, Result};
use crate::listing::{NameSort, Window, name_page};
use crate::sealing::Sealer;
use herald_channels::http::ssrf::SsrfGuard;

/// The name the secret is sealed under (authenticated with it).
const SECRET_NAME: &str = "event_endpoint_secret";

/// An endpoint to register, or its new settings.
#[derive(Debug, Clone, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct EventEndpointIn {
    /// Where the batches are POSTed: an `http` or `https` URL.
    #[validate(length(min = 1, max = 2000))]
    pub url: String,
    /// What it is for, shown to operators.
    #[serde(default)]
    #[validate(length(max = 200))]
    pub description: String,
    /// The events it wants; at least one.
    #[validate(length(min = 1, message = "name at least one event type"))]
    pub event_types: Vec<EventType>,
    /// Only events on these channels; empty for every channel.
    #[serde(default)]
    pub channels: Vec<ChannelKind>,
    /// Whether batches are made and sent (default true). Turning an endpoint off keeps
    /// what is waiting and gathers nothing new.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// A registered endpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventEndpointOut {
    pub id: i64,
    pub url: String,
    pub description: String,
    pub event_types: Vec<EventType>,
    /// Empty: every channel.
    pub channels: Vec<ChannelKind>,
    pub enabled: bool,
    /// Why Herald turned it off (the receiver answered 410 Gone).
    pub disabled_reason: Option<String>,
    /// Who registered it.
    pub owner: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A newly registered endpoint and its signing secret, shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedEventEndpoint {
    #[serde(flatten)]
    pub endpoint: EventEndpointOut,
    /// `whsec_` and the base64 key: give it to the receiver's Standard Webhooks
    /// verifier. It is not shown again.
    pub secret: String,
}

fn checked(input: &EventEndpointIn, destinations: &SsrfGuard) -> Result<()> {
    input.validate()?;
    let url = Url::parse(&input.url).map_err(|error| Error::invalid("url", error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::invalid("url", "must be an http or https URL"));
    }
    destinations
        .check_url(&url)
        .map_err(|refused| Error::invalid("url", refused.to_string()))?;
    Ok(())
}

fn new_secret() -> String {
    let mut key = [0u8; 24];
    rand::rng().fill_bytes(&mut key);
    format!("whsec_{}", STANDARD.encode(key))
}

/// The endpoint's signing secret, opened.
pub fn secret_of(sealer: &Sealer, model: &event_endpoint::Model) -> Result<SecretString> {
    sealer.open(SECRET_NAME, &model.secret)
}

/// Seals every endpoint's secret under the current key (after a key rotation).
/// Returns how many changed.
pub async fn reseal_all(conn: &impl TransactionTrait, sealer: &Sealer) -> Result<usize> {
    let txn = crate::db::begin_write(conn).await?;
    let mut changed = 0;
    for model in event_endpoint::Entity::find().all(&txn).await? {
        if sealer.is_current(&model.secret) {
            continue;
        }
        let secret = secret_of(sealer, &model)?;
        event_endpoint::ActiveModel {
            id: Set(model.id),
            secret: Set(sealer.seal(SECRET_NAME, secret.expose_secret())),
            ..Default::default()
        }
        .update(&txn)
        .await?;
        changed += 1;
    }
    txn.commit().await?;
    Ok(changed)
}

/// Every endpoint, oldest first.
/// A page of endpoints whose URL contains the window's search.
pub async fn list(
    conn: &impl ConnectionTrait,
    sort: NameSort,
    window: &Window,
) -> Result<Vec<EventEndpointOut>> {
    use event_endpoint::Column;
    let query = event_endpoint::Entity::find();
    let models = name_page(conn, query, (Column::Url, Column::Id), sort, window).await?;
    let mut filters = filters_by_endpoint(conn, None).await?;
    Ok(models
        .into_iter()
        .map(|model| {
            let wants = filters.remove(&model.id).unwrap_or_default();
            describe(model, wants)
        })
        .collect())
}

pub async fn get(conn: &impl ConnectionTrait, id: i64) -> Result<EventEndpointOut> {
    let model = find(conn, id).await?;
    let wants = filters_by_endpoint(conn, Some(id))
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok(describe(model, wants))
}

/// Registers an endpoint and makes its secret.
pub async fn create<C>(
    db: &C,
    sealer: &Sealer,
    destinations: &SsrfGuard,
    ctx: &AuditContext,
    input: EventEndpointIn,
) -> Result<CreatedEventEndpoint>
where
    C: ConnectionTrait + TransactionTrait,
{
    checked(&input, destinations)?;
    let secret = new_secret();
    let now = Utc::now();
    let txn = crate::db::begin_write(db).await?;
    let model = event_endpoint::ActiveModel {
        owner: Set(ctx.actor.name()),
        url: Set(input.url.clone()),
        description: Set(input.description.clone()),
        secret: Set(sealer.seal(SECRET_NAME, &secret)),
        enabled: Set(input.enabled),
        disabled_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let wants = write_filters(&txn, model.id, &input).await?;
    let endpoint = describe(model, wants);
    audit::record(
        &txn,
        ctx,
        Change {
            action: "event_endpoint.create",
            target_kind: "event_endpoint",
            target_id: Some(endpoint.id.to_string()),
            before: None,
            after: audit::snapshot(&endpoint),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(CreatedEventEndpoint { endpoint, secret })
}

/// Replaces an endpoint's settings; the secret stays. Enabling it clears the reason
/// Herald turned it off.
pub async fn update<C>(
    db: &C,
    destinations: &SsrfGuard,
    ctx: &AuditContext,
    id: i64,
    input: EventEndpointIn,
) -> Result<EventEndpointOut>
where
    C: ConnectionTrait + TransactionTrait,
{
    checked(&input, destinations)?;
    let txn = crate::db::begin_write(db).await?;
    let before = get(&txn, id).await?;
    let model = event_endpoint::ActiveModel {
        id: Set(id),
        url: Set(input.url.clone()),
        description: Set(input.description.clone()),
        enabled: Set(input.enabled),
        disabled_reason: Set(if input.enabled {
            None
        } else {
            before.disabled_reason.clone()
        }),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    event_endpoint_filter::Entity::delete_many()
        .filter(event_endpoint_filter::Column::EndpointId.eq(id))
        .exec(&txn)
        .await?;
    let wants = write_filters(&txn, id, &input).await?;
    let after = describe(model, wants);
    audit::record(
        &txn,
        ctx,
        Change {
            action: "event_endpoint.update",
            target_kind: "event_endpoint",
            target_id: Some(id.to_string()),
            before: audit::snapshot(&before),
            after: audit::snapshot(&after),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

/// Removes an endpoint with what waits for it and the record of what it was sent.
pub async fn delete<C>(db: &C, ctx: &AuditContext, id: i64) -> Result<()>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = crate::db::begin_write(db).await?;
    let before = get(&txn, id).await?;
    event_endpoint_filter::Entity::delete_many()
        .filter(event_endpoint_filter::Column::EndpointId.eq(id))
        .exec(&txn)
        .await?;
    event_outbox::Entity::delete_many()
        .filter(event_outbox::Column::EndpointId.eq(id))
        .exec(&txn)
        .await?;
    event_batch::Entity::delete_many()
        .filter(event_batch::Column::EndpointId.eq(id))
        .exec(&txn)
        .await?;
    event_endpoint::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        ctx,
        Change {
            action: "event_endpoint.delete",
            target_kind: "event_endpoint",
            target_id: Some(id.to_string()),
            before: audit::snapshot(&before),
            after: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Turns off an endpoint whose receiver said it is gone for good.
pub(crate) async fn disable_gone(
    conn: &impl ConnectionTrait,
    id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    event_endpoint::Entity::update_many()
        .col_expr(event_endpoint::Column::Enabled, false.into())
        .col_expr(
            event_endpoint::Column::DisabledReason,
            Some(reason.to_owned()).into(),
        )
        .col_expr(event_endpoint::Column::UpdatedAt, now.into())
        .filter(event_endpoint::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

pub(crate) async fn find(conn: &impl ConnectionTrait, id: i64) -> Result<event_endpoint::Model> {
    event_endpoint::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(Error::NotFound {
            entity: "event endpoint",
        })
}

/// What an endpoint wants: its event types and channels (empty: every channel).
type Wants = (Vec<EventType>, Vec<ChannelKind>);

async fn write_filters(
    txn: &impl ConnectionTrait,
    endpoint_id: i64,
    input: &EventEndpointIn,
) -> Result<Wants> {
    let mut types = input.event_types.clone();
    types.sort_by_key(|kind| kind.as_str());
    types.dedup();
    let mut channels = input.channels.clone();
    channels.sort_by_key(|channel| channel.as_str());
    channels.dedup();
    let channel_names: Vec<&str> = if channels.is_empty() {
        vec![EVERY_CHANNEL]
    } else {
        channels.iter().map(|channel| channel.as_str()).collect()
    };
    let mut rows = Vec::new();
    for kind in &types {
        for channel in &channel_names {
            rows.push(event_endpoint_filter::ActiveModel {
                endpoint_id: Set(endpoint_id),
                event_type: Set(kind.as_str().to_owned()),
                channel: Set((*channel).to_owned()),
            });
        }
    }
    crate::bulk::insert_all(txn, rows, &[]).await?;
    Ok((types, channels))
}

async fn filters_by_endpoint(
    conn: &impl ConnectionTrait,
    only: Option<i64>,
) -> Result<BTreeMap<i64, Wants>> {
    let mut query = event_endpoint_filter::Entity::find();
    if let Some(id) = only {
        query = query.filter(event_endpoint_filter::Column::EndpointId.eq(id));
    }
    let mut found: BTreeMap<i64, Wants> = BTreeMap::new();
    for row in query.all(conn).await? {
        let (types, channels) = found.entry(row.endpoint_id).or_default();
        if let Some(kind) = EventType::parse(&row.event_type)
            && !types.contains(&kind)
        {
            types.push(kind);
        }
        if let Some(channel) = ChannelKind::parse(&row.channel)
            && !channels.contains(&channel)
        {
            channels.push(channel);
        }
    }
    for (types, channels) in found.values_mut() {
        types.sort_by_key(|kind| kind.as_str());
        channels.sort_by_key(|channel| channel.as_str());
    }
    Ok(found)
}

fn describe(model: event_endpoint::Model, (event_types, channels): Wants) -> EventEndpointOut {
    EventEndpointOut {
        id: model.id,
        url: model.url,
        description: model.description,
        event_types,
        channels,
        enabled: model.enabled,
        disabled_reason: model.disabled_reason,
        owner: model.owner,
        created_at: model.created_at,
        updated_at: model.updated_at,
    }
}
