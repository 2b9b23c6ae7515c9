//! Checking template texts when they are saved and rendering them for a recipient.
//! Rendering is strict: an undefined variable is an error, never an empty string.

use std::collections::BTreeMap;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use crate::channel::ChannelKind;
use serde_json::Value;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::content::{Escaping, TemplateContent, escaping_of};
use super::limits::{self, BoundedOutput};
use crate::entities::subscriber;
use crate::error::{Error, Result};

/// Fields of `subscriber` a template may use; attributes below `subscriber.attributes`.
pub const SUBSCRIBER_FIELDS: [&str; 7] = [
    "external_id",
    "email",
    "phone",
    "timezone",
    "locale",
    "tags",
    "attributes",
];
/// Functions minijinja provides that look like variables to its analysis.
const BUILTIN_GLOBALS: [&str; 4] = ["range", "dict", "namespace", "debug"];

/// A part failed to render for one recipient (missing attribute, payload not JSON…).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{part}: {message}")]
pub struct RenderError {
    pub part: String,
    pub message: String,
}

impl From<RenderError> for Error {
    fn from(e: RenderError) -> Self {
        Error::invalid(format!("content.{}", e.part), e.message)
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(limits::FUEL));
    env.set_recursion_limit(limits::RECURSION_LIMIT);
    env.set_formatter(limits::counting_formatter);
    env.set_auto_escape_callback(|name| match escaping_of(name) {
        Escaping::Html => AutoEscape::Html,
        Escaping::Json => AutoEscape::Json,
        Escaping::None => AutoEscape::None,
    });
    env
}

fn describe(error: &minijinja::Error) -> String {
    let what = limits::output_limit_message(error).unwrap_or_else(|| {
        error
            .detail()
            .map_or_else(|| error.kind().to_string(), str::to_owned)
    });
    match error.line() {
        Some(line) => format!("line {line}: {what}"),
        None => what,
    }
}

fn variable_allowed(name: &str, data_keys: &[String]) -> bool {
    let mut segments = name.split('.');
    match (segments.next(), segments.next(), segments.next()) {
        (Some("subscriber"), None, _) | (Some("data"), None, _) => true,
        (Some("subscriber"), Some("attributes"), _) => true,
        (Some("subscriber"), Some(field), None) => SUBSCRIBER_FIELDS.contains(&field),
        (Some("data"), Some(key), _) => data_keys.iter().any(|k| k == key),
        (Some(global), None, _) => BUILTIN_GLOBALS.contains(&global),
        _ => false,
    }
}

/// 1-based line of the first occurrence of `needle`, for pointing at unknown variables.
fn line_of(source: &str, needle: &str) -> usize {
    source
        .find(needle)
        .map_or(1, |at| source[..at].matches('\n').count() + 1)
}

/// Checks syntax and variables of every part. `data_keys` are the per-send data fields
/// the template declares; any other `data.x` is unknown.
pub fn check(content: &TemplateContent, data_keys: &[String]) -> Result<()> {
    if content.channels().is_empty() {
        return Err(Error::invalid(
            "content",
            "give content for at least one channel",
        ));
    }
    if let Some(email) = &content.email
        && email.html.is_none()
        && email.text.is_none()
    {
        return Err(Error::invalid(
            "content.email",
            "give an html or a text body",
        ));
    }
    let env = environment();
    for part in content.parts() {
        let field = format!("content.{}", part.path);
        let template = env
            .template_from_named_str(&part.path, part.source)
            .map_err(|e| Error::invalid(field.clone(), describe(&e)))?;
        let mut unknown: Vec<String> = template
            .undeclared_variables(true)
            .into_iter()
            .filter(|name| !variable_allowed(name, data_keys))
            .collect();
        unknown.sort();
        if let Some(name) = unknown.first() {
            let hint = if name.starts_with("data.") {
                " (declare it in data_keys)"
            } else {
                ""
            };
            return Err(Error::invalid(
                field,
                format!(
                    "line {}: unknown variable `{name}`{hint}",
                    line_of(part.source, name)
                ),
            ));
        }
    }
    Ok(())
}

/// What a recipient receives, per channel.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct RenderedContent {
    pub inbox: Option<RenderedInbox>,
    pub email: Option<RenderedEmail>,
    pub push: Option<RenderedPush>,
    // Webhook and MQTT payloads stay the JSON text the template rendered (checked to
    // be JSON), which is what goes out: never parsed into a tree to be written again.
    // Any JSON value, not only an object: a payload template may render `8` or a list.
    #[schema(value_type = Option<serde_json::Value>)]
    pub webhook: Option<Box<RawValue>>,
    #[schema(value_type = Option<serde_json::Value>)]
    pub mqtt: Option<Box<RawValue>>,
}

impl RenderedContent {
    /// The texts `channel` sends, each with the name of its field (`email.subject`,
    /// `webhook.payload.title`…): what keyword rules check before a delivery goes out.
    pub fn texts_for(&self, channel: ChannelKind) -> Vec<(String, String)> {
        let mut texts = Vec::new();
        match channel {
            ChannelKind::Inbox => {
                if let Some(inbox) = &self.inbox {
                    texts = inbox.texts();
                }
            }
            ChannelKind::Email => {
                if let Some(email) = &self.email {
                    texts.push(("email.subject".to_owned(), email.subject.clone()));
                    if let Some(text) = &email.text {
                        texts.push(("email.text".to_owned(), text.clone()));
                    }
                    if let Some(html) = &email.html {
                        texts.push(("email.html".to_owned(), html.clone()));
                    }
                }
            }
            ChannelKind::Push => {
                if let Some(push) = &self.push {
                    texts.push(("push.title".to_owned(), push.title.clone()));
                    texts.push(("push.body".to_owned(), push.body.clone()));
                    for (key, value) in &push.data {
                        texts.push((format!("push.data.{key}"), value.clone()));
                    }
                }
            }
            ChannelKind::Webhook => payload_texts("webhook.payload", &self.webhook, &mut texts),
            ChannelKind::Mqtt => payload_texts("mqtt.payload", &self.mqtt, &mut texts),
        }
        texts
    }
}

/// Every string in a rendered payload, named by its path.
fn payload_texts(path: &str, payload: &Option<Box<RawValue>>, texts: &mut Vec<(String, String)>) {
    if let Some(payload) = payload {
        let parsed: Option<Value> = serde_json::from_str(payload.get()).ok();
        json_texts(path, parsed.as_ref(), texts);
    }
}

/// Every string in a JSON payload, named by its path.
fn json_texts(path: &str, value: Option<&Value>, texts: &mut Vec<(String, String)>) {
    match value {
        Some(Value::String(text)) => texts.push((path.to_owned(), text.clone())),
        Some(Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                json_texts(&format!("{path}.{index}"), Some(item), texts);
            }
        }
        Some(Value::Object(fields)) => {
            for (key, item) in fields {
                json_texts(&format!("{path}.{key}"), Some(item), texts);
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct RenderedInbox {
    pub title: String,
    pub body: String,
    pub data: BTreeMap<String, String>,
}

impl RenderedInbox {
    /// Its texts, each with the name of its field, for keyword rules.
    pub fn texts(&self) -> Vec<(String, String)> {
        let mut texts = vec![
            ("inbox.title".to_owned(), self.title.clone()),
            ("inbox.body".to_owned(), self.body.clone()),
        ];
        for (key, value) in &self.data {
            texts.push((format!("inbox.data.{key}"), value.clone()));
        }
        texts
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct RenderedEmail {
    pub subject: String,
    pub html: Option<String>,
    pub text: Option<String>,
    /// The template's sender and reply address, if it names them (not templated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct RenderedPush {
    pub title: String,
    pub body: String,
    pub data: BTreeMap<String, String>,
}

/// Content compiled once and rendered for many recipients.
pub struct CompiledContent {
    env: Environment<'static>,
    content: TemplateContent,
    /// The inbox part reads nothing of the subscriber: it renders the same for all.
    inbox_same_for_all: bool,
}

/// The variables of one recipient, borrowed from what the caller holds: a campaign
/// renders this once per delivery, so nothing is copied into it.
#[derive(Debug, Clone, Serialize)]
pub struct RenderContext<'a> {
    pub subscriber: SubscriberVars<'a>,
    pub data: &'a Value,
}

/// The `subscriber` a template sees: a stored subscriber's fields, or a sample given
/// to a preview.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum SubscriberVars<'a> {
    Stored {
        external_id: &'a str,
        email: Option<&'a str>,
        phone: Option<&'a str>,
        timezone: Option<&'a str>,
        locale: Option<&'a str>,
        tags: &'a Value,
        attributes: &'a Value,
    },
    Sample(&'a Value),
}

impl<'a> RenderContext<'a> {
    pub fn for_subscriber(model: &'a subscriber::Model, data: &'a Value) -> Self {
        Self {
            subscriber: SubscriberVars::Stored {
                external_id: &model.external_id,
                email: model.email.as_deref(),
                phone: model.phone.as_deref(),
                timezone: model.timezone.as_deref(),
                locale: model.locale.as_deref(),
                tags: &model.tags,
                attributes: &model.attributes,
            },
            data,
        }
    }

    /// The variables of content that reads no `subscriber` (see
    /// [`CompiledContent::inbox_same_for_all`]): it renders alike for everyone.
    pub fn for_anyone(data: &'a Value) -> Self {
        Self {
            subscriber: SubscriberVars::Sample(&Value::Null),
            data,
        }
    }
}

impl CompiledContent {
    pub fn compile(content: &TemplateContent) -> Result<Self> {
        let mut env = environment();
        for part in content.parts() {
            env.add_template_owned(part.path.clone(), part.source.to_owned())
                .map_err(|e| Error::invalid(format!("content.{}", part.path), describe(&e)))?;
        }
        let inbox_same_for_all = content.parts().iter().all(|part| {
            !part.path.starts_with("inbox.")
                || env.get_template(&part.path).is_ok_and(|template| {
                    !template.undeclared_variables(false).contains("subscriber")
                })
        });
        Ok(Self {
            env,
            content: content.clone(),
            inbox_same_for_all,
        })
    }

    /// Whether the inbox part renders the same for every recipient of a message (it
    /// reads no `subscriber` variable), so one item can be shared by them all.
    pub fn inbox_same_for_all(&self) -> bool {
        self.inbox_same_for_all
    }

    fn text(&self, path: &str, ctx: &minijinja::Value) -> Result<String, RenderError> {
        let failed = |message: String| RenderError {
            part: path.to_owned(),
            message,
        };
        let template = self
            .env
            .get_template(path)
            .map_err(|e| failed(describe(&e)))?;
        let mut output = BoundedOutput::new(limits::MAX_OUTPUT_BYTES);
        template
            .render_captured_to(ctx, &mut output)
            .map_err(|e| failed(describe(&e)))?;
        Ok(output.into_string())
    }

    fn json(&self, path: &str, ctx: &minijinja::Value) -> Result<Box<RawValue>, RenderError> {
        let text = self.text(path, ctx)?;
        RawValue::from_string(text).map_err(|e| RenderError {
            part: path.to_owned(),
            message: format!("does not render to JSON: {e}"),
        })
    }

    fn data(
        &self,
        prefix: &str,
        keys: &BTreeMap<String, String>,
        ctx: &minijinja::Value,
    ) -> Result<BTreeMap<String, String>, RenderError> {
        keys.keys()
            .map(|key| {
                Ok((
                    key.clone(),
                    self.text(&format!("{prefix}.data.{key}"), ctx)?,
                ))
            })
            .collect()
    }

    /// The inbox part alone, for a delivery that needs nothing else.
    pub fn render_inbox(&self, ctx: &RenderContext) -> Result<Option<RenderedInbox>, RenderError> {
        self.inbox(&minijinja::Value::from(minijinja::value::Serde(ctx)))
    }

    fn inbox(&self, ctx: &minijinja::Value) -> Result<Option<RenderedInbox>, RenderError> {
        self.content
            .inbox
            .as_ref()
            .map(|inbox| {
                Ok(RenderedInbox {
                    title: self.text("inbox.title", ctx)?,
                    body: self.text("inbox.body", ctx)?,
                    data: self.data("inbox", &inbox.data, ctx)?,
                })
            })
            .transpose()
    }

    /// Every part, rendered for one recipient.
    pub fn render(&self, ctx: &RenderContext) -> Result<RenderedContent, RenderError> {
        self.render_parts(ctx, None)
    }

    /// The part a delivery on `channel` sends, alone: a message with several channels
    /// renders each delivery's own part, and one part failing fails only its channel.
    pub fn render_for(
        &self,
        channel: ChannelKind,
        ctx: &RenderContext,
    ) -> Result<RenderedContent, RenderError> {
        self.render_parts(ctx, Some(channel))
    }

    fn render_parts(
        &self,
        ctx: &RenderContext,
        only: Option<ChannelKind>,
    ) -> Result<RenderedContent, RenderError> {
        let wanted = |channel: ChannelKind| only.is_none_or(|only| only == channel);
        // Converted once per recipient; every part renders from the same value.
        let ctx = &minijinja::Value::from(minijinja::value::Serde(ctx));
        let c = &self.content;
        Ok(RenderedContent {
            inbox: if wanted(ChannelKind::Inbox) {
                self.inbox(ctx)?
            } else {
                None
            },
            email: c
                .email
                .as_ref()
                .filter(|_| wanted(ChannelKind::Email))
                .map(|email| {
                    Ok::<_, RenderError>(RenderedEmail {
                        from: email.from.clone(),
                        reply_to: email.reply_to.clone(),
                        subject: self.text("email.subject", ctx)?,
                        html: email
                            .html
                            .as_ref()
                            .map(|_| self.text("email.html", ctx))
                            .transpose()?,
                        text: email
                            .text
                            .as_ref()
                            .map(|_| self.text("email.text", ctx))
                            .transpose()?,
                    })
                })
                .transpose()?,
            push: c
                .push
                .as_ref()
                .filter(|_| wanted(ChannelKind::Push))
                .map(|push| {
                    Ok::<_, RenderError>(RenderedPush {
                        title: self.text("push.title", ctx)?,
                        body: self.text("push.body", ctx)?,
                        data: self.data("push", &push.data, ctx)?,
                    })
                })
                .transpose()?,
            webhook: c
                .webhook
                .as_ref()
                .filter(|_| wanted(ChannelKind::Webhook))
                .map(|_| self.json("webhook.payload", ctx))
                .transpose()?,
            mqtt: c
                .mqtt
                .as_ref()
                .filter(|_| wanted(ChannelKind::Mqtt))
                .map(|_| self.json("mqtt.payload", ctx))
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::content::{EmailContent, InboxContent, PayloadContent};
    use serde_json::json;

    fn email(subject: &str, html: &str) -> TemplateContent {
        TemplateContent {
            email: Some(EmailContent {
                subject: subject.into(),
                html: Some(html.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn field_and_message(result: Result<()>) -> (String, String) {
        match result {
            Err(Error::Invalid { field, message }) => (field, message),
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn syntax_errors_name_the_part_and_line() {
        let (field, message) =
            field_and_message(check(&email("Hi", "<p>\n{{ subscriber.email \n</p>"), &[]));
        assert_eq!(field, "content.email.html");
        assert!(message.starts_with("line "), "{message}");
    }

    #[test]
    fn unknown_variables_name_the_part_and_line() {
        let (field, message) = field_and_message(check(
            &email("Hi", "<p>\n\n{{ subscriber.emial }}</p>"),
            &[],
        ));
        assert_eq!(field, "content.email.html");
        assert_eq!(message, "line 3: unknown variable `subscriber.emial`");
        let (_, message) = field_and_message(check(&email("{{ data.order }}", "x"), &[]));
        assert!(
            message.contains("data.order") && message.contains("data_keys"),
            "{message}"
        );
        let (_, message) = field_and_message(check(&email("{{ user }}", "x"), &[]));
        assert!(message.contains("`user`"));
    }

    #[test]
    fn known_variables_loops_and_declared_data_pass() {
        let content = email(
            "Order {{ data.order }} for {{ subscriber.attributes.first_name | default('you') }}",
            "{% for t in subscriber.tags %}<b>{{ t }}</b>{% endfor %}{% set x = 1 %}{{ x }}",
        );
        check(&content, &["order".into()]).expect("valid");
    }

    fn render_error(html: &str) -> RenderError {
        let compiled = CompiledContent::compile(&email("S", html)).unwrap();
        let (subscriber, data) = (json!({ "external_id": "u" }), json!({}));
        let ctx = RenderContext {
            subscriber: SubscriberVars::Sample(&subscriber),
            data: &data,
        };
        compiled.render(&ctx).unwrap_err()
    }

    #[test]
    fn a_runaway_loop_runs_out_of_fuel() {
        let error = render_error(
            "<p>\n{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        );
        assert_eq!(error.part, "email.html");
        assert!(error.message.contains("fuel"), "{}", error.message);
        assert!(error.message.starts_with("line 2"), "{}", error.message);
    }

    #[test]
    fn endless_recursion_stops_at_the_limit() {
        let error =
            render_error("{% macro down(n) %}{{ down(n + 1) }}{% endmacro %}\n{{ down(0) }}");
        assert!(error.message.contains("recursion"), "{}", error.message);
    }

    #[test]
    fn output_past_the_cap_is_refused() {
        let error = render_error("<p>{{ 'x' * 600000 }}</p>");
        assert!(
            error.message.contains("exceeds 524288 bytes"),
            "{}",
            error.message
        );
        // Literal text repeated by a loop meets the same cap, in the output buffer.
        let error = render_error(&format!(
            "{{% for i in range(20000) %}}{}{{% endfor %}}",
            "x".repeat(30)
        ));
        assert!(
            error.message.contains("exceeds 524288 bytes"),
            "{}",
            error.message
        );
        // Just under the cap renders.
        let compiled = CompiledContent::compile(&email("S", "{{ 'x' * 500000 }}")).unwrap();
        let (subscriber, data) = (json!({ "external_id": "u" }), json!({}));
        let ctx = RenderContext {
            subscriber: SubscriberVars::Sample(&subscriber),
            data: &data,
        };
        let html = compiled.render(&ctx).unwrap().email.unwrap().html.unwrap();
        assert_eq!(html.len(), 500_000);
    }

    #[test]
    fn an_inbox_part_reading_the_subscriber_is_not_shared() {
        let inbox = |title: &str, link: &str| TemplateContent {
            inbox: Some(InboxContent {
                title: title.into(),
                body: "{{ data.note }}".into(),
                data: [("link".to_owned(), link.to_owned())].into(),
            }),
            email: Some(EmailContent {
                subject: "Hi {{ subscriber.email }}".into(),
                text: Some("x".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let same = CompiledContent::compile(&inbox("Sale", "/s/{{ data.id }}")).unwrap();
        assert!(same.inbox_same_for_all(), "other channels may be personal");
        // Such content renders without a subscriber's row, as it would with one.
        let data = json!({ "note": "50% off", "id": 7 });
        let subscriber = json!({ "external_id": "u1", "email": "a@b.co" });
        let with_row = RenderContext {
            subscriber: SubscriberVars::Sample(&subscriber),
            data: &data,
        };
        let rendered = |ctx: &RenderContext| {
            let inbox = same.render_inbox(ctx).unwrap().unwrap();
            (inbox.title, inbox.body, inbox.data)
        };
        assert_eq!(
            rendered(&RenderContext::for_anyone(&data)),
            rendered(&with_row)
        );
        assert_eq!(rendered(&with_row).1, "50% off");
        for (title, link) in [
            ("Hi {{ subscriber.external_id }}", "/s"),
            ("Sale", "/u/{{ subscriber.attributes.plan }}"),
        ] {
            let personal = CompiledContent::compile(&inbox(title, link)).unwrap();
            assert!(!personal.inbox_same_for_all(), "{title} {link}");
        }
    }

    #[test]
    fn rendering_escapes_html_and_json_and_is_strict() {
        let content = TemplateContent {
            inbox: Some(InboxContent {
                title: "Hi {{ subscriber.email }}".into(),
                body: "{{ data.note }}".into(),
                data: [("link".to_owned(), "/orders/{{ data.order }}".to_owned())].into(),
            }),
            email: Some(EmailContent {
                subject: "S".into(),
                html: Some("<p>{{ data.note }}</p>".into()),
                text: Some("{{ data.note }}".into()),
                ..Default::default()
            }),
            webhook: Some(PayloadContent {
                payload: r#"{"to": {{ subscriber.external_id }}, "note": {{ data.note }}}"#.into(),
            }),
            ..Default::default()
        };
        let compiled = CompiledContent::compile(&content).unwrap();
        let subscriber = json!({ "external_id": "u\"1", "email": "a@b.co", "attributes": {} });
        let data = json!({ "note": "<b>5 > 4</b>", "order": 7 });
        let ctx = RenderContext {
            subscriber: SubscriberVars::Sample(&subscriber),
            data: &data,
        };
        let out = compiled.render(&ctx).unwrap();
        let inbox = out.inbox.unwrap();
        assert_eq!(inbox.title, "Hi a@b.co");
        assert_eq!(inbox.data["link"], "/orders/7");
        let email = out.email.unwrap();
        assert_eq!(
            email.html.unwrap(),
            "<p>&lt;b&gt;5 &gt; 4&lt;&#x2f;b&gt;</p>"
        );
        assert_eq!(email.text.unwrap(), "<b>5 > 4</b>");
        assert_eq!(
            serde_json::from_str::<Value>(out.webhook.unwrap().get()).unwrap(),
            json!({ "to": "u\"1", "note": "<b>5 > 4</b>" })
        );

        let (subscriber, data) = (json!({ "external_id": "u" }), json!({}));
        let missing = RenderContext {
            subscriber: SubscriberVars::Sample(&subscriber),
            data: &data,
        };
        let error = compiled.render(&missing).unwrap_err();
        assert_eq!(error.part, "inbox.title");
    }

    #[test]
    fn a_delivery_renders_its_own_channel_alone() {
        let content = TemplateContent {
            email: Some(EmailContent {
                subject: "{{ subscriber.nickname }}".into(),
                text: Some("hi".into()),
                ..Default::default()
            }),
            webhook: Some(PayloadContent {
                payload: r#"{"to": {{ subscriber.external_id }}}"#.into(),
            }),
            ..Default::default()
        };
        let compiled = CompiledContent::compile(&content).unwrap();
        let sample = json!({"external_id": "ada"});
        let data = json!({});
        let ctx = RenderContext {
            subscriber: SubscriberVars::Sample(&sample),
            data: &data,
        };
        // The email subject reads a field this subscriber lacks: all parts fail…
        assert!(compiled.render(&ctx).is_err());
        // …but the webhook delivery renders its payload and nothing else.
        let webhook = compiled.render_for(ChannelKind::Webhook, &ctx).unwrap();
        assert_eq!(webhook.webhook.unwrap().get(), r#"{"to": "ada"}"#);
        assert!(webhook.email.is_none());
        assert!(compiled.render_for(ChannelKind::Email, &ctx).is_err());
    }
}
