//! Named channel instances configured at run time ("marketing-smtp", "ios-apns").
//! Settings are stored as given, except secrets, which are stored sealed (see
//! [`crate::sealing`]); they are shown only through the plugin's own serialisation,
//! which leaves secrets out: a secret can be written, never read back. An update that
//! omits a secret keeps the stored one, unless it moves the instance to another host:
//! a stored credential is never sent to a host it was not given for.

use chrono::Utc;
use herald_channels::http::ssrf::SsrfGuard;
use herald_channels::{ChannelConfig, Delivery, DeliveryOutcome, IdempotencyKey, Message};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    SqlErr, TransactionSession, TransactionTrait,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use validator::Validate;

use crate::audit::{self, AuditContext, Change};
use crate::entities::channel_instance::{self, Column};
use crate::error::{Error, Result};
use crate::error_code::ErrorCode;
use crate::listing::{NameSort, Window, name_page};
use crate::sealing::Sealer;

#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelInstanceIn {
    /// Lower-case letters, digits and dashes, e.g. `marketing-smtp`.
    #[validate(length(min = 1, max = 64), custom(function = "validate_name"))]
    pub name: String,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// The plugin's settings, tagged by `kind` (`smtp`, `webhook`, `fcm`, `apns`,
    /// `jpush`, `mqtt`). Secrets (passwords, keys, signing secrets) are accepted here
    /// and never returned; leave one out of an update to keep the stored value. Read
    /// as a map first, so that a secret left out of an update can be filled in and a
    /// bad field named, then as the plugin's typed settings.
    #[schema(value_type = herald_channels::ChannelConfig)]
    pub settings: Map<String, Value>,
}

fn enabled_by_default() -> bool {
    true
}

fn validate_name(name: &str) -> Result<(), validator::ValidationError> {
    let ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(validator::ValidationError::new("name")
            .with_message("use lower-case letters, digits and dashes".into()))
    }
}

/// An instance as shown: settings without secrets, and which secrets are set.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelInstanceOut {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub enabled: bool,
    /// The settings as stored, secrets left out (`secrets_set` names those held).
    #[schema(value_type = herald_channels::ChannelConfig)]
    pub settings: Value,
    /// Names of the secret settings that hold a value (the values are never shown).
    pub secrets_set: Vec<String>,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

/// Parses settings into the plugin's configuration, naming the offending setting.
pub fn parse(settings: &Map<String, Value>) -> Result<ChannelConfig> {
    let value = Value::Object(settings.clone());
    serde_path_to_error::deserialize::<_, ChannelConfig>(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "settings".to_owned()
        } else {
            format!("settings.{path}")
        };
        Error::invalid(field, e.into_inner().to_string())
    })
}

/// The settings as shown: what the plugin serialises, which leaves secrets out.
fn shown(config: &ChannelConfig) -> Value {
    serde_json::to_value(config).unwrap_or_default()
}

/// Secrets are the stored top-level settings the shown form leaves out.
fn secret_names(stored: &Map<String, Value>, shown: &Value) -> Vec<String> {
    stored
        .keys()
        .filter(|key| shown.get(key.as_str()).is_none())
        .cloned()
        .collect()
}

/// The settings with each secret sealed (values already sealed stay as they are).
fn sealed(sealer: &Sealer, mut settings: Map<String, Value>) -> Result<Map<String, Value>> {
    let shown = shown(&parse(&settings)?);
    for name in secret_names(&settings, &shown) {
        if let Some(Value::String(plain)) = settings.get_mut(&name)
            && !Sealer::is_sealed(plain)
        {
            *plain = sealer.seal(&name, plain);
        }
    }
    Ok(settings)
}

/// The stored settings with their secrets opened, as the plugin needs them.
fn opened(sealer: &Sealer, model: &channel_instance::Model) -> Result<Map<String, Value>> {
    let mut settings = stored_settings(model)?;
    for (name, value) in settings.iter_mut() {
        if let Value::String(text) = value
            && Sealer::is_sealed(text)
        {
            *text = sealer.open(name, text)?.expose_secret().to_owned();
        }
    }
    Ok(settings)
}

/// The hosts an instance's settings send to, as the plugin names its destinations.
fn hosts(settings: &Map<String, Value>) -> Result<Vec<String>> {
    let mut hosts: Vec<String> = parse(settings)?
        .destinations()
        .map_err(setting_error)?
        .into_iter()
        .map(|(_, host, _)| host.to_ascii_lowercase())
        .collect();
    hosts.sort();
    Ok(hosts)
}

pub fn to_out(model: channel_instance::Model) -> Result<ChannelInstanceOut> {
    let stored = stored_settings(&model)?;
    let settings = shown(&parse(&stored)?);
    Ok(ChannelInstanceOut {
        secrets_set: secret_names(&stored, &settings),
        settings,
        id: model.id,
        name: model.name,
        kind: model.kind,
        enabled: model.enabled,
        created_at: model.created_at,
        updated_at: model.updated_at,
    })
}

fn stored_settings(model: &channel_instance::Model) -> Result<Map<String, Value>> {
    match &model.settings {
        Value::Object(map) => Ok(map.clone()),
        _ => Err(Error::invalid(
            "settings",
            "stored settings are not an object",
        )),
    }
}

/// Checks settings by building the plugin: bad keys or certificates fail here, not at
/// the first send. Returns the kind tag.
fn check(settings: &Map<String, Value>) -> Result<String> {
    let config = parse(settings)?;
    config
        .build()
        .map_err(|e| Error::invalid("settings", e.to_string()))?;
    Ok(settings
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned())
}

fn snapshot(out: &ChannelInstanceOut) -> Option<Value> {
    audit::snapshot(&serde_json::json!({
        "name": out.name, "kind": out.kind, "enabled": out.enabled,
        "settings": out.settings, "secrets_set": out.secrets_set,
    }))
}

fn name_taken(error: sea_orm::DbErr) -> Error {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => Error::conflict(
            ErrorCode::NameTaken,
            "a channel instance with this name exists",
        ),
        _ => Error::from(error),
    }
}

pub async fn create(
    conn: &impl TransactionTrait,
    sealer: &Sealer,
    destinations: &SsrfGuard,
    ctx: &AuditContext,
    input: ChannelInstanceIn,
) -> Result<ChannelInstanceOut> {
    input.validate()?;
    let kind = check(&input.settings)?;
    check_destinations(&input.settings, destinations).await?;
    let settings = sealed(sealer, input.settings)?;
    let now = Utc::now();
    let txn = crate::db::begin_write(conn).await?;
    let model = channel_instance::ActiveModel {
        name: Set(input.name),
        kind: Set(kind),
        enabled: Set(input.enabled),
        settings: Set(Value::Object(settings)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(name_taken)?;
    let out = to_out(model)?;
    audit::record(
        &txn,
        ctx,
        Change {
            action: "channel.create",
            target_kind: "channel",
            target_id: Some(out.name.clone()),
            before: None,
            after: snapshot(&out),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(out)
}

/// Replaces an instance's settings; secrets left out keep their stored values, as long
/// as the instance still sends to the same hosts.
pub async fn replace(
    conn: &(impl TransactionTrait + ConnectionTrait),
    sealer: &Sealer,
    destinations: &SsrfGuard,
    ctx: &AuditContext,
    name: &str,
    input: ChannelInstanceIn,
) -> Result<ChannelInstanceOut> {
    input.validate()?;
    // Where the settings point is checked before the transaction: it may wait on DNS.
    let preview = with_stored_secrets(sealer, &get(conn, name).await?, input.settings.clone())?;
    check_destinations(&preview, destinations).await?;
    let txn = crate::db::begin_write(conn).await?;
    let before = get(&txn, name).await?;
    let settings = with_stored_secrets(sealer, &before, input.settings)?;
    let kind = check(&settings)?;
    // Campaigns choose instances by name and kind, and send only while theirs is on.
    if input.name != before.name || kind != before.kind || (before.enabled && !input.enabled) {
        refuse_if_chosen(&txn, &before.name).await?;
    }
    let settings = sealed(sealer, settings)?;
    let before_out = to_out(before.clone())?;
    let mut active: channel_instance::ActiveModel = before.into();
    active.name = Set(input.name);
    active.kind = Set(kind);
    active.enabled = Set(input.enabled);
    active.settings = Set(Value::Object(settings));
    active.updated_at = Set(Utc::now());
    let after = to_out(active.update(&txn).await.map_err(name_taken)?)?;
    audit::record(
        &txn,
        ctx,
        Change {
            action: "channel.update",
            target_kind: "channel",
            target_id: Some(name.to_owned()),
            before: snapshot(&before_out),
            after: snapshot(&after),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

/// `settings` with the secrets they leave out taken from the stored instance, as long
/// as the instance still sends to the same hosts.
fn with_stored_secrets(
    sealer: &Sealer,
    before: &channel_instance::Model,
    mut settings: Map<String, Value>,
) -> Result<Map<String, Value>> {
    let stored = opened(sealer, before)?;
    if settings.get("kind") != stored.get("kind") {
        return Ok(settings);
    }
    let shown_before = shown(&parse(&stored)?);
    let carried: Vec<String> = secret_names(&stored, &shown_before)
        .into_iter()
        .filter(|secret| !settings.contains_key(secret))
        .collect();
    for secret in &carried {
        if let Some(value) = stored.get(secret) {
            settings.insert(secret.clone(), value.clone());
        }
    }
    if let Some(secret) = carried.first()
        && hosts(&stored)? != hosts(&settings)?
    {
        return Err(Error::invalid(
            format!("settings.{secret}"),
            "the instance now sends to another host: give its secret again",
        ));
    }
    Ok(settings)
}

/// Refuses settings naming a destination the server's SSRF policy forbids (an SMTP
/// relay on this machine, a provider URL in the private network…), naming the setting.
async fn check_destinations(settings: &Map<String, Value>, destinations: &SsrfGuard) -> Result<()> {
    parse(settings)?
        .check_destinations(destinations)
        .await
        .map_err(setting_error)
}

/// A plugin's refusal of its settings, naming the setting where it can.
fn setting_error(error: herald_channels::BuildError) -> Error {
    match error {
        herald_channels::BuildError::InvalidSetting { field, reason } => {
            Error::invalid(format!("settings.{field}"), reason)
        }
        other => Error::invalid("settings", other.to_string()),
    }
}

pub async fn delete(conn: &impl TransactionTrait, ctx: &AuditContext, name: &str) -> Result<()> {
    let txn = crate::db::begin_write(conn).await?;
    let before = to_out(get(&txn, name).await?)?;
    refuse_if_last_for_campaigns(&txn, &before).await?;
    refuse_if_chosen(&txn, &before.name).await?;
    channel_instance::Entity::delete_by_id(before.id)
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        ctx,
        Change {
            action: "channel.delete",
            target_kind: "channel",
            target_id: Some(name.to_owned()),
            before: snapshot(&before),
            after: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// An instance that campaigns still to send chose by name may not go, be renamed,
/// change kind or be disabled: their deliveries would wait for it.
async fn refuse_if_chosen(conn: &impl ConnectionTrait, name: &str) -> Result<()> {
    crate::campaigns::users::choosing(conn, name)
        .await?
        .refuse_change_to(&format!("the channel instance {name:?}"))
}

/// An enabled instance that is the last of its channel may not go while campaigns
/// still have to send on that channel: they would stall with nothing to send through.
async fn refuse_if_last_for_campaigns(
    conn: &impl ConnectionTrait,
    instance: &ChannelInstanceOut,
) -> Result<()> {
    let Some(channel) = crate::channel::ChannelKind::of_instance_kind(&instance.kind) else {
        return Ok(());
    };
    if !instance.enabled {
        return Ok(());
    }
    let others = list(conn).await?.into_iter().any(|other| {
        other.id != instance.id
            && other.enabled
            && crate::channel::ChannelKind::of_instance_kind(&other.kind) == Some(channel)
    });
    if others {
        return Ok(());
    }
    crate::campaigns::users::sending_on(conn, channel.as_str())
        .await?
        .refuse_change_to(&format!("the only enabled {channel} instance"))
}

pub async fn get(conn: &impl ConnectionTrait, name: &str) -> Result<channel_instance::Model> {
    channel_instance::Entity::find()
        .filter(Column::Name.eq(name))
        .one(conn)
        .await?
        .ok_or(Error::NotFound { entity: "channel" })
}

pub async fn list(conn: &impl ConnectionTrait) -> Result<Vec<channel_instance::Model>> {
    list_page(conn, NameSort::Name, &Window::default()).await
}

/// A page of channel instances whose name contains the window's search.
pub async fn list_page(
    conn: &impl ConnectionTrait,
    sort: NameSort,
    window: &Window,
) -> Result<Vec<channel_instance::Model>> {
    let query = channel_instance::Entity::find();
    name_page(conn, query, (Column::Name, Column::Id), sort, window).await
}

/// A channel instance as a campaign or a send may choose it: its name and what it
/// delivers, without its settings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InstanceChoice {
    pub name: String,
    /// The plugin kind: `smtp`, `webhook`, `fcm`, `apns`, `jpush` or `mqtt`.
    pub kind: String,
    /// The channel it delivers: `email`, `webhook`, `push` or `mqtt`.
    pub channel: Option<crate::channel::ChannelKind>,
    pub enabled: bool,
    /// The first enabled instance of its kind by name: what sends that choose none of
    /// the kind go through.
    pub default: bool,
}

/// Every instance by name, as something to choose.
pub async fn choices(conn: &impl ConnectionTrait) -> Result<Vec<InstanceChoice>> {
    let models = list(conn).await?;
    let mut defaults = std::collections::HashSet::new();
    Ok(models
        .into_iter()
        .map(|model| InstanceChoice {
            channel: crate::channel::ChannelKind::of_instance_kind(&model.kind),
            default: model.enabled && defaults.insert(model.kind.clone()),
            name: model.name,
            kind: model.kind,
            enabled: model.enabled,
        })
        .collect())
}

#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestSendIn {
    /// An email address, webhook URL, device token or MQTT topic, as the kind needs.
    #[validate(length(min = 1, max = 4096))]
    pub to: String,
    /// The sender, for email instances.
    #[validate(length(max = 320))]
    pub from: Option<String>,
    #[validate(length(max = 200))]
    #[serde(default = "default_subject")]
    pub subject: String,
    #[validate(length(max = 10000))]
    #[serde(default = "default_body")]
    pub body: String,
}

fn default_subject() -> String {
    "Herald test message".into()
}

fn default_body() -> String {
    "This is a test message from Herald.".into()
}

/// What a test send did, as the plugin classified it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestSendOut {
    /// The idempotency key the message carried (a webhook's `webhook-id`).
    pub idempotency_key: String,
    /// `delivered` (with the provider's id and response), `retryable` (with the reason
    /// and any retry-after) or `permanent` (with the reason, and whether the endpoint is
    /// dead).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub outcome: DeliveryOutcome,
}

fn test_message(kind: &str, input: &TestSendIn) -> Result<Message> {
    use herald_channels::{EmailMessage, MqttMessage, PluginKind, PushMessage, WebhookMessage};
    let body =
        serde_json::json!({ "type": "herald.test", "subject": input.subject, "body": input.body });
    let Some(kind) = PluginKind::parse(kind) else {
        return Err(Error::invalid(
            "settings.kind",
            format!("unknown kind `{kind}`"),
        ));
    };
    Ok(match kind {
        PluginKind::Smtp => Message::Email(EmailMessage {
            from: input
                .from
                .clone()
                .ok_or_else(|| Error::invalid("from", "an email test needs a sender"))?,
            to: vec![input.to.clone()],
            subject: input.subject.clone(),
            text: input.body.clone(),
            ..Default::default()
        }),
        PluginKind::Webhook => Message::Webhook(
            WebhookMessage::of(input.to.clone(), &body)
                .map_err(|_| Error::Internal("a test webhook body serialises"))?,
        ),
        PluginKind::Fcm | PluginKind::Apns | PluginKind::Jpush => Message::Push(PushMessage {
            token: input.to.clone(),
            title: input.subject.clone(),
            body: input.body.clone(),
            ..Default::default()
        }),
        PluginKind::Mqtt => Message::Mqtt(MqttMessage {
            topic: input.to.clone(),
            payload: body.to_string().into_bytes(),
        }),
    })
}

/// Sends one message through the instance and reports how the plugin classified it.
pub async fn test_send(
    conn: &impl ConnectionTrait,
    sealer: &Sealer,
    destinations: &SsrfGuard,
    name: &str,
    input: TestSendIn,
) -> Result<TestSendOut> {
    input.validate()?;
    let model = get(conn, name).await?;
    let settings = opened(sealer, &model)?;
    check_destinations(&settings, destinations).await?;
    let config = parse(&settings)?;
    let channel = config
        .build()
        .map_err(|e| Error::invalid("settings", e.to_string()))?;
    let key = format!("test-{}", crate::secrets::random_hex(12));
    let delivery = Delivery {
        idempotency_key: IdempotencyKey::parse(key.clone())
            .map_err(|e| Error::invalid("to", e.to_string()))?,
        message: test_message(&model.kind, &input)?,
    };
    let outcome = channel.send(&delivery).await;
    Ok(TestSendOut {
        idempotency_key: key,
        outcome,
    })
}

/// Every enabled instance, built and ready to send. An instance whose stored settings
/// no longer build is skipped with a warning, so one bad instance stops no other.
pub async fn build_enabled(
    conn: &impl ConnectionTrait,
    sealer: &Sealer,
    destinations: &SsrfGuard,
) -> Result<
    Vec<(
        channel_instance::Model,
        std::sync::Arc<dyn herald_channels::Channel>,
    )>,
> {
    let mut built = Vec::new();
    for model in list(conn).await?.into_iter().filter(|m| m.enabled) {
        let channel = match opened(sealer, &model) {
            Ok(settings) => match check_destinations(&settings, destinations).await {
                Ok(()) => parse(&settings).and_then(|config| config.build().map_err(setting_error)),
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        };
        match channel {
            Ok(channel) => built.push((model, channel)),
            Err(error) => {
                tracing::warn!(instance = %model.name, %error, "channel instance does not build; skipped");
            }
        }
    }
    Ok(built)
}

/// Seals every stored secret under the current key: those sealed with a previous key
/// and those stored before sealing existed. Returns how many instances changed.
pub async fn reseal_all(conn: &impl TransactionTrait, sealer: &Sealer) -> Result<usize> {
    let txn = crate::db::begin_write(conn).await?;
    let mut changed = 0;
    for model in list(&txn).await? {
        let stored = stored_settings(&model)?;
        let shown = shown(&parse(&stored)?);
        let stale = secret_names(&stored, &shown).iter().any(|name| {
            stored
                .get(name)
                .and_then(Value::as_str)
                .is_some_and(|value| !sealer.is_current(value))
        });
        if !stale {
            continue;
        }
        let mut settings = opened(sealer, &model)?;
        // Opened values are plaintext again, so `sealed` seals each under the current key.
        settings = sealed(sealer, settings)?;
        let mut active: channel_instance::ActiveModel = model.into();
        active.settings = Set(Value::Object(settings));
        active.update(&txn).await?;
        changed += 1;
    }
    txn.commit().await?;
    Ok(changed)
}

/// How many instances there are and when the latest changed.
pub type Fingerprint = (i64, Option<chrono::DateTime<Utc>>);

/// Changes whenever an instance is created, updated or deleted: workers rebuild their
/// plugins when it does.
pub async fn fingerprint(conn: &impl ConnectionTrait) -> Result<Fingerprint> {
    use sea_orm::QuerySelect;
    let (count, latest): (i64, Option<chrono::DateTime<Utc>>) = channel_instance::Entity::find()
        .select_only()
        .column_as(Column::Id.count(), "count")
        .column_as(Column::UpdatedAt.max(), "latest")
        .into_tuple()
        .one(conn)
        .await?
        .unwrap_or((0, None));
    Ok((count, latest))
}

/// Checks a campaign's or send's choice of instances (`instances`): each names an
/// instance that exists, and no two are of the same kind (a message goes through one
/// instance per kind). Whether one is enabled is checked when sending: it may be
/// enabled by then.
pub async fn check_choice(conn: &impl ConnectionTrait, names: &[String]) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    if names.len() > 6 {
        return Err(Error::invalid(
            "instances",
            "at most one instance per kind, 6 kinds",
        ));
    }
    let found = channel_instance::Entity::find()
        .filter(channel_instance::Column::Name.is_in(names.iter().map(String::as_str)))
        .all(conn)
        .await?;
    let mut kinds = std::collections::HashSet::new();
    for name in names {
        let Some(instance) = found.iter().find(|i| &i.name == name) else {
            return Err(Error::invalid(
                "instances",
                format!("no channel instance is named {name:?}"),
            ));
        };
        if !kinds.insert(instance.kind.as_str()) {
            return Err(Error::invalid(
                "instances",
                format!("two instances of kind {} are chosen", instance.kind),
            ));
        }
    }
    Ok(())
}
