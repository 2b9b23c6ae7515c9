//! A subscriber's profile as a product service sends it, and its validation. The same
//! type serves `PUT /v1/subscribers/{external_id}` and every row of a bulk import.

use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

use crate::error::{Error, Result};

pub const MAX_TAGS: usize = 100;
pub const MAX_ATTRIBUTES: usize = 100;
const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;

/// The product's own id for a user: 1–255 characters, no control characters.
pub fn parse_external_id(raw: &str) -> Result<&str> {
    if raw.is_empty() || raw.len() > 255 {
        return Err(Error::invalid("external_id", "must be 1 to 255 bytes"));
    }
    if raw.chars().any(char::is_control) {
        return Err(Error::invalid(
            "external_id",
            "must not contain control characters",
        ));
    }
    Ok(raw)
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriberIn {
    #[validate(email(message = "is not a valid email address"), length(max = 254))]
    pub email: Option<String>,
    /// E.164, e.g. `+4915112345678`.
    #[validate(custom(function = "validate_phone"))]
    pub phone: Option<String>,
    /// An IANA zone such as `Europe/Berlin`; used for quiet hours and local-time sends.
    #[validate(custom(function = "validate_timezone"))]
    pub timezone: Option<String>,
    /// A BCP 47 language tag such as `de-DE`.
    #[validate(custom(function = "validate_locale"))]
    pub locale: Option<String>,
    #[serde(default)]
    #[validate(custom(function = "validate_tags"))]
    pub tags: Vec<String>,
    /// Free attributes for targeting and templates; keys are identifiers.
    #[serde(default)]
    #[schema(value_type = Object)]
    #[validate(custom(function = "validate_attributes"))]
    pub attributes: Map<String, Value>,
}

impl SubscriberIn {
    /// Validates and normalises (trimmed, lower-cased email, de-duplicated tags).
    pub fn into_valid(mut self) -> Result<Self> {
        self.validate()?;
        self.email = self.email.map(|e| e.trim().to_lowercase());
        let mut seen = std::collections::HashSet::new();
        self.tags.retain(|t| seen.insert(t.clone()));
        Ok(self)
    }
}

fn err(code: &'static str, message: &'static str) -> ValidationError {
    ValidationError::new(code).with_message(message.into())
}

fn validate_phone(phone: &str) -> Result<(), ValidationError> {
    let digits = phone.strip_prefix('+').unwrap_or("");
    if (7..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0')
    {
        Ok(())
    } else {
        Err(err("phone", "must be in E.164 form, e.g. +4915112345678"))
    }
}

fn validate_timezone(zone: &str) -> Result<(), ValidationError> {
    zone.parse::<chrono_tz::Tz>()
        .map(|_| ())
        .map_err(|_| err("timezone", "is not an IANA time zone such as Europe/Berlin"))
}

fn validate_locale(locale: &str) -> Result<(), ValidationError> {
    let mut parts = locale.split(['-', '_']);
    let language_ok = parts
        .next()
        .is_some_and(|l| (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphabetic()));
    let rest_ok =
        parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if language_ok && rest_ok {
        Ok(())
    } else {
        Err(err("locale", "is not a language tag such as en or de-DE"))
    }
}

fn validate_tags(tags: &[String]) -> Result<(), ValidationError> {
    if tags.len() > MAX_TAGS {
        return Err(err("tags", "at most 100 tags"));
    }
    if tags
        .iter()
        .any(|t| t.is_empty() || t.len() > 64 || t.chars().any(char::is_control))
    {
        return Err(err(
            "tags",
            "each tag must be 1 to 64 bytes without control characters",
        ));
    }
    Ok(())
}

pub fn is_attribute_key(key: &str) -> bool {
    let mut chars = key.chars();
    key.len() <= 64
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn validate_attributes(attributes: &Map<String, Value>) -> Result<(), ValidationError> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(err("attributes", "at most 100 attributes"));
    }
    if !attributes.keys().all(|k| is_attribute_key(k)) {
        return Err(err(
            "attributes",
            "keys must be identifiers (letters, digits, _; not starting with a digit)",
        ));
    }
    if serde_json::to_vec(attributes).map_or(0, |v| v.len()) > MAX_ATTRIBUTES_BYTES {
        return Err(err("attributes", "must be at most 16 KiB as JSON"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(input: SubscriberIn) -> String {
        match input.into_valid() {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn each_bad_field_is_named() {
        let bad = |f: fn(&mut SubscriberIn)| {
            let mut input = SubscriberIn::default();
            f(&mut input);
            field_of(input)
        };
        assert_eq!(bad(|s| s.email = Some("nope".into())), "email");
        assert_eq!(bad(|s| s.phone = Some("12345".into())), "phone");
        assert_eq!(
            bad(|s| s.timezone = Some("Mars/Olympus".into())),
            "timezone"
        );
        assert_eq!(bad(|s| s.locale = Some("english!".into())), "locale");
        assert_eq!(bad(|s| s.tags = vec![String::new()]), "tags");
        assert_eq!(
            bad(|s| {
                s.attributes.insert("1bad".into(), Value::Null);
            }),
            "attributes"
        );
    }

    #[test]
    fn valid_input_is_normalised() {
        let input = SubscriberIn {
            email: Some(" Ada@Example.com ".trim().into()),
            phone: Some("+4915112345678".into()),
            timezone: Some("Europe/Berlin".into()),
            locale: Some("de-DE".into()),
            tags: vec!["a".into(), "b".into(), "a".into()],
            attributes: Map::new(),
        }
        .into_valid()
        .expect("valid");
        assert_eq!(input.email.as_deref(), Some("ada@example.com"));
        assert_eq!(input.tags, vec!["a", "b"]);
    }

    #[test]
    fn external_ids_are_checked() {
        assert!(parse_external_id("user-1").is_ok());
        assert!(parse_external_id("").is_err());
        assert!(parse_external_id("a\nb").is_err());
        assert!(parse_external_id(&"x".repeat(256)).is_err());
    }
}
