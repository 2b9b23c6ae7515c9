//! A segment: filters on subscribers combined with AND/OR/NOT, as operators write it.
//!
//! ```json
//! {"all": [
//!   {"tags": {"any": ["vip", "beta"]}},
//!   {"any": [{"attribute": {"key": "plan", "op": "eq", "value": "pro"}},
//!            {"attribute": {"key": "seats", "op": "gt", "value": 10}}]},
//!   {"not": {"timezone": {"in": ["Asia/Tokyo"]}}}
//! ]}
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::{Error, Result};
use crate::subscribers::input::is_attribute_key;

/// Deepest nesting of groups accepted (keeps generated SQL and recursion bounded).
pub const MAX_DEPTH: usize = 8;
/// Most conditions in one segment.
pub const MAX_CONDITIONS: usize = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Segment {
    /// Every member holds (AND).
    #[schema(no_recursion)]
    All(Vec<Segment>),
    /// At least one member holds (OR).
    #[schema(no_recursion)]
    Any(Vec<Segment>),
    /// The member does not hold.
    #[schema(no_recursion)]
    Not(Box<Segment>),
    Tags(TagFilter),
    Attribute(AttributeFilter),
    Timezone(TimezoneFilter),
    CreatedAt(TimeRange),
    UpdatedAt(TimeRange),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TagFilter {
    /// Has at least one of these tags.
    Any(Vec<String>),
    /// Has every one of these tags.
    All(Vec<String>),
    /// Has none of these tags.
    None(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttributeOp {
    /// Equal, with the same JSON type (`"5"` is not `5`).
    Eq,
    /// Not equal; subscribers without the attribute match too.
    Neq,
    /// Equal to one of `value` (an array).
    In,
    /// Greater than a number.
    Gt,
    /// Less than a number.
    Lt,
    /// The attribute is present (no `value`).
    Exists,
    /// A text attribute contains `value`, or an array attribute has it as an element.
    Contains,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeFilter {
    pub key: String,
    pub op: AttributeOp,
    #[schema(value_type = Object)]
    #[serde(default)]
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimezoneFilter {
    /// IANA zone names.
    #[serde(rename = "in")]
    pub zones: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    /// At or after this instant.
    pub after: Option<DateTime<Utc>>,
    /// Before this instant.
    pub before: Option<DateTime<Utc>>,
}

fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

impl Segment {
    /// Checks limits and operands; errors name the path inside the segment.
    pub fn check(&self) -> Result<()> {
        let mut conditions = 0;
        self.check_at("segment", 0, &mut conditions)
    }

    fn check_at(&self, path: &str, depth: usize, conditions: &mut usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::invalid(
                path,
                format!("nest groups at most {MAX_DEPTH} deep"),
            ));
        }
        *conditions += 1;
        if *conditions > MAX_CONDITIONS {
            return Err(Error::invalid(
                path,
                format!("at most {MAX_CONDITIONS} conditions"),
            ));
        }
        match self {
            Segment::All(members) | Segment::Any(members) => {
                let name = if matches!(self, Segment::All(_)) {
                    "all"
                } else {
                    "any"
                };
                if members.is_empty() {
                    return Err(Error::invalid(
                        format!("{path}.{name}"),
                        "give at least one condition",
                    ));
                }
                for (index, member) in members.iter().enumerate() {
                    member.check_at(&format!("{path}.{name}[{index}]"), depth + 1, conditions)?;
                }
                Ok(())
            }
            Segment::Not(inner) => inner.check_at(&format!("{path}.not"), depth + 1, conditions),
            Segment::Tags(filter) => {
                let (TagFilter::Any(tags) | TagFilter::All(tags) | TagFilter::None(tags)) = filter;
                if tags.is_empty() || tags.len() > 100 {
                    return Err(Error::invalid(format!("{path}.tags"), "give 1 to 100 tags"));
                }
                Ok(())
            }
            Segment::Attribute(filter) => filter.check(&format!("{path}.attribute")),
            Segment::Timezone(filter) => {
                if filter.zones.is_empty() {
                    return Err(Error::invalid(
                        format!("{path}.timezone.in"),
                        "give at least one zone",
                    ));
                }
                Ok(())
            }
            Segment::CreatedAt(range) | Segment::UpdatedAt(range) => {
                if range.after.is_none() && range.before.is_none() {
                    return Err(Error::invalid(path, "give after, before or both"));
                }
                Ok(())
            }
        }
    }
}

impl AttributeFilter {
    fn check(&self, path: &str) -> Result<()> {
        if !is_attribute_key(&self.key) {
            return Err(Error::invalid(
                format!("{path}.key"),
                "must be an identifier",
            ));
        }
        let field = format!("{path}.value");
        let ok = match self.op {
            AttributeOp::Eq | AttributeOp::Neq => is_scalar(&self.value),
            AttributeOp::In => self.value.as_array().is_some_and(|values| {
                !values.is_empty() && values.len() <= 1000 && values.iter().all(is_scalar)
            }),
            AttributeOp::Gt | AttributeOp::Lt => self.value.is_number(),
            AttributeOp::Exists => self.value.is_null(),
            AttributeOp::Contains => self.value.is_string() || self.value.is_number(),
        };
        if ok {
            Ok(())
        } else {
            let expected = match self.op {
                AttributeOp::Eq | AttributeOp::Neq => "a string, number or boolean",
                AttributeOp::In => "a non-empty array of strings, numbers or booleans",
                AttributeOp::Gt | AttributeOp::Lt => "a number",
                AttributeOp::Exists => "absent",
                AttributeOp::Contains => "a string or number",
            };
            Err(Error::invalid(
                field,
                format!("must be {expected} for `{:?}`", self.op).to_lowercase(),
            ))
        }
    }
}
