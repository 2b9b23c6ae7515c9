//! Storing rules, and the keyword check content passes at save and submit.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::keywords::find_banned;
use super::params::RuleParams;
use crate::audit::{self, AuditContext, Change};
use crate::channel::ChannelKind;
use crate::entities::rule;
use crate::error::{Error, Result};
use crate::listing::{NameSort, Window, name_page};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleScope {
    Global,
    Channel,
    Category,
}

impl RuleScope {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleScope::Global => "global",
            RuleScope::Channel => "channel",
            RuleScope::Category => "category",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
pub struct RuleIn {
    #[validate(length(min = 1, max = 128))]
    pub name: String,
    pub scope: RuleScope,
    /// The channel or category a scoped rule applies to.
    #[validate(length(min = 1, max = 64))]
    pub scope_value: Option<String>,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Categories this rule never applies to (e.g. `security` ignores quiet hours).
    #[serde(default)]
    pub exempt_categories: Vec<String>,
    #[serde(flatten)]
    pub rule: RuleParams,
}

fn enabled_by_default() -> bool {
    true
}

impl RuleIn {
    fn check(&self) -> Result<()> {
        self.validate()?;
        self.rule.validate().map_err(|errors| {
            let (field, message) = crate::error::first_validation_error(&errors);
            Error::invalid(format!("params.{field}"), message)
        })?;
        match (self.scope, self.scope_value.as_deref()) {
            (RuleScope::Global, Some(_)) => Err(Error::invalid(
                "scope_value",
                "a global rule has no scope value",
            )),
            (RuleScope::Channel | RuleScope::Category, None) => Err(Error::invalid(
                "scope_value",
                "name the channel or category",
            )),
            (RuleScope::Channel, Some(channel)) if ChannelKind::parse(channel).is_none() => Err(
                Error::invalid("scope_value", format!("unknown channel `{channel}`")),
            ),
            _ => Ok(()),
        }?;
        if let RuleParams::FrequencyCap(cap) = &self.rule
            && (cap.window == super::params::CapWindow::Rolling) != cap.rolling_secs.is_some()
        {
            return Err(Error::invalid(
                "params.rolling_secs",
                "give rolling_secs exactly when the window is rolling",
            ));
        }
        Ok(())
    }
}

/// A stored rule with its parameters parsed.
pub struct Rule {
    pub model: rule::Model,
    pub params: RuleParams,
}

impl Rule {
    fn from_model(model: rule::Model) -> Result<Self> {
        let tagged = serde_json::json!({ "kind": model.kind, "params": model.params });
        let params = serde_json::from_value(tagged).map_err(|e| {
            Error::invalid(
                "params",
                format!("stored rule {} is unreadable: {e}", model.id),
            )
        })?;
        Ok(Self { model, params })
    }

    pub fn exempts(&self, category: &str) -> bool {
        self.model
            .exempt_categories
            .as_array()
            .is_some_and(|list| list.iter().any(|c| c.as_str() == Some(category)))
    }

    /// Whether the rule's scope covers a send on `channel` in `category`.
    pub fn applies_to(&self, channel: Option<ChannelKind>, category: Option<&str>) -> bool {
        let value = self.model.scope_value.as_deref();
        let in_scope = match self.model.scope.as_str() {
            "global" => true,
            "channel" => channel.is_some_and(|c| Some(c.as_str()) == value),
            "category" => category.is_some_and(|c| Some(c) == value),
            _ => false,
        };
        in_scope && !category.is_some_and(|c| self.exempts(c))
    }
}

fn snapshot(model: &rule::Model) -> Option<serde_json::Value> {
    audit::snapshot(&serde_json::json!({
        "name": model.name, "kind": model.kind, "scope": model.scope, "scope_value": model.scope_value,
        "enabled": model.enabled, "exempt_categories": model.exempt_categories, "params": model.params,
    }))
}

fn params_json(params: &RuleParams) -> serde_json::Value {
    serde_json::to_value(params)
        .ok()
        .and_then(|mut v| v.get_mut("params").map(serde_json::Value::take))
        .unwrap_or_default()
}

pub async fn create(
    conn: &impl TransactionTrait,
    ctx: &AuditContext,
    input: RuleIn,
) -> Result<rule::Model> {
    input.check()?;
    let now = Utc::now();
    let txn = crate::db::begin_write(conn).await?;
    let model = rule::ActiveModel {
        name: Set(input.name),
        kind: Set(input.rule.kind().to_owned()),
        scope: Set(input.scope.as_str().to_owned()),
        scope_value: Set(input.scope_value),
        enabled: Set(input.enabled),
        exempt_categories: Set(serde_json::json!(input.exempt_categories)),
        params: Set(params_json(&input.rule)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        ctx,
        Change {
            action: "rule.create",
            target_kind: "rule",
            target_id: Some(model.id.to_string()),
            before: None,
            after: snapshot(&model),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

pub async fn replace(
    conn: &impl TransactionTrait,
    ctx: &AuditContext,
    id: i64,
    input: RuleIn,
) -> Result<rule::Model> {
    input.check()?;
    let txn = crate::db::begin_write(conn).await?;
    let before = get(&txn, id).await?;
    let mut active: rule::ActiveModel = before.clone().into();
    active.name = Set(input.name);
    active.kind = Set(input.rule.kind().to_owned());
    active.scope = Set(input.scope.as_str().to_owned());
    active.scope_value = Set(input.scope_value);
    active.enabled = Set(input.enabled);
    active.exempt_categories = Set(serde_json::json!(input.exempt_categories));
    active.params = Set(params_json(&input.rule));
    active.updated_at = Set(Utc::now());
    let after = active.update(&txn).await?;
    audit::record(
        &txn,
        ctx,
        Change {
            action: "rule.update",
            target_kind: "rule",
            target_id: Some(id.to_string()),
            before: snapshot(&before),
            after: snapshot(&after),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

pub async fn delete(conn: &impl TransactionTrait, ctx: &AuditContext, id: i64) -> Result<()> {
    let txn = crate::db::begin_write(conn).await?;
    let before = get(&txn, id).await?;
    rule::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        ctx,
        Change {
            action: "rule.delete",
            target_kind: "rule",
            target_id: Some(id.to_string()),
            before: snapshot(&before),
            after: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

pub async fn get(conn: &impl ConnectionTrait, id: i64) -> Result<rule::Model> {
    rule::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(Error::NotFound { entity: "rule" })
}

/// A page of rules whose name contains the window's search.
pub async fn list(
    conn: &impl ConnectionTrait,
    sort: NameSort,
    window: &Window,
) -> Result<Vec<rule::Model>> {
    use rule::Column;
    name_page(
        conn,
        rule::Entity::find(),
        (Column::Name, Column::Id),
        sort,
        window,
    )
    .await
}

/// Enabled rules of these kinds, parsed: kind by kind in the order given, oldest first
/// within a kind. One query, however many kinds.
pub async fn enabled_of_kinds(conn: &impl ConnectionTrait, kinds: &[&str]) -> Result<Vec<Rule>> {
    let mut rules = rule::Entity::find()
        .filter(rule::Column::Kind.is_in(kinds.iter().copied()))
        .filter(rule::Column::Enabled.eq(true))
        .order_by_asc(rule::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(Rule::from_model)
        .collect::<Result<Vec<_>>>()?;
    // Stable: ids stay in order within a kind.
    rules.sort_by_key(|rule| kinds.iter().position(|kind| *kind == rule.model.kind));
    Ok(rules)
}

/// The enabled keyword rules, loaded once to check many contents.
#[derive(Default)]
pub struct KeywordRules(Vec<Rule>);

impl KeywordRules {
    pub async fn load(conn: &impl ConnectionTrait) -> Result<Self> {
        Ok(Self(enabled_of_kinds(conn, &["keyword"]).await?))
    }

    /// Refuses content holding banned words of any rule that applies to one of
    /// `channels` (or globally) and to `category` when it is known. `field` names the
    /// input the error points at.
    pub fn check(
        &self,
        field: &str,
        texts: &[&str],
        channels: &[ChannelKind],
        category: Option<&str>,
    ) -> Result<()> {
        let mut banned: Vec<String> = Vec::new();
        for rule in &self.0 {
            let RuleParams::Keyword(params) = &rule.params else {
                continue;
            };
            let applies = if channels.is_empty() {
                rule.applies_to(None, category)
            } else {
                channels.iter().any(|c| rule.applies_to(Some(*c), category))
            };
            if !applies {
                continue;
            }
            for word in find_banned(params, texts) {
                if !banned.iter().any(|b| b == word) {
                    banned.push(word.to_owned());
                }
            }
        }
        if banned.is_empty() {
            return Ok(());
        }
        let list = banned
            .iter()
            .map(|w| format!("`{w}`"))
            .collect::<Vec<_>>()
            .join(", ");
        Err(Error::Banned {
            field: field.to_owned(),
            message: format!("contains banned words: {list}"),
            words: banned,
        })
    }
}

/// A banned word found in content as it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordHit {
    pub rule_id: i64,
    pub word: String,
    /// Which part of the content held it, e.g. `email.subject`.
    pub field: String,
}

impl KeywordHit {
    /// The delivery log's reason.
    pub fn reason(&self) -> String {
        format!(
            "held back by keyword rule {}: `{}` in {}",
            self.rule_id, self.word, self.field
        )
    }
}

impl KeywordRules {
    /// The first banned word of a rule that applies to `channel` and `category`, in
    /// the fields (name, text) `fields` gives as rendered for one subscriber. The fields
    /// are gathered only when a rule applies: most deliveries have none to answer to.
    pub fn first_hit(
        &self,
        fields: impl FnOnce() -> Vec<(String, String)>,
        channel: ChannelKind,
        category: &str,
    ) -> Option<KeywordHit> {
        let mut applying = self.0.iter().filter_map(|rule| match &rule.params {
            RuleParams::Keyword(params) if rule.applies_to(Some(channel), Some(category)) => {
                Some((rule, params))
            }
            _ => None,
        });
        let first = applying.next()?;
        let fields = fields();
        std::iter::once(first)
            .chain(applying)
            .find_map(|(rule, params)| {
                fields.iter().find_map(|(field, text)| {
                    find_banned(params, &[text.as_str()])
                        .first()
                        .map(|word| KeywordHit {
                            rule_id: rule.model.id,
                            word: (*word).to_owned(),
                            field: field.clone(),
                        })
                })
            })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// [`KeywordRules::check`] against the rules as stored now.
pub async fn check_keywords(
    conn: &impl ConnectionTrait,
    field: &str,
    texts: &[&str],
    channels: &[ChannelKind],
    category: Option<&str>,
) -> Result<()> {
    KeywordRules::load(conn)
        .await?
        .check(field, texts, channels, category)
}
