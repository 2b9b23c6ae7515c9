//! Saving templates as immutable versions, reading them back, and previews.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, TransactionSession, TransactionTrait,
};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use validator::Validate;

use super::content::TemplateContent;
use super::render::{CompiledContent, RenderContext, RenderedContent, SubscriberVars, check};
use crate::audit::{self, AuditContext, Change};
use crate::channel::ChannelKind;
use crate::entities::{template, template_version};
use crate::error::{Error, Result};
use crate::error_code::ErrorCode;
use crate::listing::{Window, name_contains, paged};
use crate::rules::check_keywords;
use crate::subscribers::store as subscribers;

#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTemplate {
    #[validate(length(min = 1, max = 128))]
    pub name: String,
    #[validate(length(max = 1000))]
    #[serde(default)]
    pub description: String,
    #[validate(nested)]
    pub content: TemplateContent,
    /// Per-send data fields the content may use as `data.<key>`.
    #[serde(default)]
    #[validate(custom(function = "validate_data_keys"))]
    pub data_keys: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVersion {
    #[validate(nested)]
    pub content: TemplateContent,
    #[serde(default)]
    #[validate(custom(function = "validate_data_keys"))]
    pub data_keys: Vec<String>,
}

fn validate_data_keys(keys: &[String]) -> Result<(), validator::ValidationError> {
    if keys.len() <= 100
        && keys
            .iter()
            .all(|k| crate::subscribers::input::is_attribute_key(k))
    {
        Ok(())
    } else {
        Err(validator::ValidationError::new("data_keys")
            .with_message("at most 100 identifiers (letters, digits, _)".into()))
    }
}

/// Syntax, variables and keyword rules: everything content must pass to be saved.
async fn check_content(
    conn: &impl ConnectionTrait,
    content: &TemplateContent,
    data_keys: &[String],
) -> Result<()> {
    check(content, data_keys)?;
    let texts: Vec<&str> = content.parts().iter().map(|p| p.source).collect();
    check_keywords(conn, "content", &texts, &content.channels(), None).await
}

pub fn content_of(version: &template_version::Model) -> Result<TemplateContent> {
    serde_json::from_value(version.content.clone())
        .map_err(|e| Error::invalid("content", format!("stored version is unreadable: {e}")))
}

pub fn data_keys_of(version: &template_version::Model) -> Vec<String> {
    serde_json::from_value(version.data_keys.clone()).unwrap_or_default()
}

/// The version a send refers to (the latest when `number` is absent); one that does not
/// exist is a 422 naming `template_id` or `template_version`.
pub async fn referenced_version(
    conn: &impl ConnectionTrait,
    template_id: i64,
    number: Option<i32>,
) -> Result<template_version::Model> {
    let template = get(conn, template_id)
        .await
        .map_err(|e| e.missing_as_invalid("template_id", "no such template"))?;
    version(conn, template_id, number.unwrap_or(template.latest_version))
        .await
        .map_err(|e| e.missing_as_invalid("template_version", "no such version"))
}

/// Refuses data that lacks a key the version declares.
pub fn require_data(
    version: &template_version::Model,
    data: &serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    match data_keys_of(version)
        .into_iter()
        .find(|key| !data.contains_key(key))
    {
        Some(key) => Err(Error::invalid(
            format!("data.{key}"),
            "the template needs this value",
        )),
        None => Ok(()),
    }
}

/// Refuses a channel the content has nothing for, naming its index in `channels`.
pub fn require_channels(content: &TemplateContent, channels: &[ChannelKind]) -> Result<()> {
    let available = content.channels();
    match channels
        .iter()
        .enumerate()
        .find(|(_, c)| !available.contains(c))
    {
        Some((index, missing)) => Err(Error::invalid(
            format!("channels[{index}]"),
            format!("the content has nothing for {missing}"),
        )),
        None => Ok(()),
    }
}

pub async fn create(
    conn: &impl TransactionTrait,
    ctx: &AuditContext,
    input: NewTemplate,
) -> Result<(template::Model, template_version::Model)> {
    input.validate()?;
    let txn = crate::db::begin_write(conn).await?;
    check_content(&txn, &input.content, &input.data_keys).await?;
    let taken = template::Entity::find()
        .filter(template::Column::Name.eq(input.name.as_str()))
        .count(&txn)
        .await?
        > 0;
    if taken {
        return Err(Error::conflict(
            ErrorCode::TemplateNameTaken,
            format!("a template named `{}` exists", input.name),
        ));
    }
    let now = Utc::now();
    let created = template::ActiveModel {
        name: Set(input.name),
        description: Set(input.description),
        latest_version: Set(1),
        created_by: Set(ctx.actor.operator_id()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let version =
        insert_version(&txn, ctx, created.id, 1, &input.content, &input.data_keys).await?;
    audit::record(
        &txn,
        ctx,
        Change {
            action: "template.create",
            target_kind: "template",
            target_id: Some(created.id.to_string()),
            before: None,
            after: Some(json!({ "name": created.name, "version": 1 })),
        },
    )
    .await?;
    txn.commit().await?;
    Ok((created, version))
}

async fn insert_version(
    conn: &impl ConnectionTrait,
    ctx: &AuditContext,
    template_id: i64,
    version: i32,
    content: &TemplateContent,
    data_keys: &[String],
) -> Result<template_version::Model> {
    Ok(template_version::ActiveModel {
        template_id: Set(template_id),
        version: Set(version),
        content: Set(serde_json::to_value(content).unwrap_or_default()),
        data_keys: Set(json!(data_keys)),
        created_by: Set(ctx.actor.operator_id()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

/// Saves new content as the next version. Concurrent saves get distinct numbers: the
/// counter is bumped in the database before it is read.
pub async fn add_version(
    conn: &impl TransactionTrait,
    ctx: &AuditContext,
    template_id: i64,
    input: NewVersion,
) -> Result<template_version::Model> {
    input.validate()?;
    let txn = crate::db::begin_write(conn).await?;
    check_content(&txn, &input.content, &input.data_keys).await?;
    let bumped = template::Entity::update_many()
        .col_expr(
            template::Column::LatestVersion,
            Expr::col(template::Column::LatestVersion).add(1),
        )
        .col_expr(template::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(template::Column::Id.eq(template_id))
        .exec(&txn)
        .await?
        .rows_affected;
    if bumped == 0 {
        return Err(Error::NotFound { entity: "template" });
    }
    let number = get(&txn, template_id).await?.latest_version;
    let version = insert_version(
        &txn,
        ctx,
        template_id,
        number,
        &input.content,
        &input.data_keys,
    )
    .await?;
    audit::record(
        &txn,
        ctx,
        Change {
            action: "template.version.create",
            target_kind: "template",
            target_id: Some(template_id.to_string()),
            before: None,
            after: Some(json!({ "version": number })),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(version)
}

pub async fn get(conn: &impl ConnectionTrait, id: i64) -> Result<template::Model> {
    template::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(Error::NotFound { entity: "template" })
}

pub async fn list(conn: &impl ConnectionTrait) -> Result<Vec<template::Model>> {
    Ok(template::Entity::find()
        .order_by_asc(template::Column::Name)
        .all(conn)
        .await?)
}

/// How a page of templates is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TemplateSort {
    #[default]
    Name,
    Newest,
    /// Most recently changed first.
    Updated,
}

/// A page of templates whose name contains the window's search.
pub async fn list_page(
    conn: &impl ConnectionTrait,
    sort: TemplateSort,
    window: &Window,
) -> Result<Vec<template::Model>> {
    let mut query = template::Entity::find();
    if let Some(search) = &window.search {
        query = query.filter(name_contains(template::Column::Name, search));
    }
    query = match sort {
        TemplateSort::Name => query.order_by_asc(template::Column::Name),
        TemplateSort::Newest => query.order_by_desc(template::Column::Id),
        TemplateSort::Updated => query
            .order_by_desc(template::Column::UpdatedAt)
            .order_by_desc(template::Column::Id),
    };
    Ok(paged(query, window).all(conn).await?)
}

pub async fn versions(
    conn: &impl ConnectionTrait,
    template_id: i64,
) -> Result<Vec<template_version::Model>> {
    get(conn, template_id).await?;
    Ok(template_version::Entity::find()
        .filter(template_version::Column::TemplateId.eq(template_id))
        .order_by_desc(template_version::Column::Version)
        .all(conn)
        .await?)
}

pub async fn version(
    conn: &impl ConnectionTrait,
    template_id: i64,
    number: i32,
) -> Result<template_version::Model> {
    template_version::Entity::find()
        .filter(template_version::Column::TemplateId.eq(template_id))
        .filter(template_version::Column::Version.eq(number))
        .one(conn)
        .await?
        .ok_or(Error::NotFound {
            entity: "template version",
        })
}

#[derive(Debug, Clone, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewIn {
    /// Render for this stored subscriber…
    #[validate(length(min = 1, max = 255))]
    pub subscriber: Option<String>,
    /// …or for these sample subscriber fields (`email`, `attributes`, …).
    #[schema(value_type = Option<Object>)]
    pub sample: Option<serde_json::Value>,
    /// Per-send data (`data.<key>` in the content).
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
}

/// Renders a version for a stored subscriber or for sample fields.
pub async fn preview(
    conn: &impl ConnectionTrait,
    template_id: i64,
    number: i32,
    input: PreviewIn,
) -> Result<RenderedContent> {
    input.validate()?;
    let stored = version(conn, template_id, number).await?;
    render_for(conn, &content_of(&stored)?, input).await
}

/// Content not saved yet (an editor's draft), with the data keys it may use.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftPreviewIn {
    #[validate(nested)]
    pub content: TemplateContent,
    #[serde(default)]
    #[validate(custom(function = "validate_data_keys"))]
    pub data_keys: Vec<String>,
    /// Render for this stored subscriber…
    #[validate(length(min = 1, max = 255))]
    pub subscriber: Option<String>,
    /// …or for these sample subscriber fields (`email`, `attributes`, …).
    #[schema(value_type = Option<Object>)]
    pub sample: Option<serde_json::Value>,
    /// Per-send data (`data.<key>` in the content).
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
}

/// Checks a draft as saving it would (errors name the part and variable), then renders
/// it like a saved version.
pub async fn preview_draft(
    conn: &impl ConnectionTrait,
    input: DraftPreviewIn,
) -> Result<RenderedContent> {
    input.validate()?;
    check(&input.content, &input.data_keys)?;
    let preview = PreviewIn {
        subscriber: input.subscriber,
        sample: input.sample,
        data: input.data,
    };
    render_for(conn, &input.content, preview).await
}

async fn render_for(
    conn: &impl ConnectionTrait,
    content: &TemplateContent,
    input: PreviewIn,
) -> Result<RenderedContent> {
    let data = input.data.unwrap_or_else(|| json!({}));
    let (stored, sample);
    let ctx = match (input.subscriber, input.sample) {
        (Some(external_id), None) => {
            stored = subscribers::find(conn, &external_id).await?;
            RenderContext::for_subscriber(&stored, &data)
        }
        (None, given) => {
            let mut fields = json!({ "external_id": "sample", "tags": [], "attributes": {} });
            if let (Some(serde_json::Value::Object(given)), serde_json::Value::Object(base)) =
                (given, &mut fields)
            {
                base.extend(given);
            }
            sample = fields;
            RenderContext {
                subscriber: SubscriberVars::Sample(&sample),
                data: &data,
            }
        }
        (Some(_), Some(_)) => {
            return Err(Error::invalid(
                "sample",
                "give a subscriber or a sample, not both",
            ));
        }
    };
    Ok(CompiledContent::compile(content)?.render(&ctx)?)
}
