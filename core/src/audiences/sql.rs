//! Turning a segment into a SQL condition over `subscribers`, for Postgres (jsonb
//! operators) or SQLite (JSON1 functions). Values are always bound, never spliced; keys
//! are identifiers (checked), so they are safe inside a JSON path.

use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, Value as SqlValue};
use serde_json::Value;

use super::segment::{AttributeFilter, AttributeOp, Segment, TagFilter, TimeRange};
use crate::entities::subscriber::Column;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    pub fn of(conn: &impl ConnectionTrait) -> Self {
        if crate::db::is_postgres(conn) {
            Dialect::Postgres
        } else {
            Dialect::Sqlite
        }
    }
}

pub fn condition(segment: &Segment, dialect: Dialect) -> Condition {
    match segment {
        Segment::All(members) => members
            .iter()
            .fold(Condition::all(), |c, m| c.add(condition(m, dialect))),
        Segment::Any(members) => members
            .iter()
            .fold(Condition::any(), |c, m| c.add(condition(m, dialect))),
        Segment::Not(inner) => condition(inner, dialect).not(),
        Segment::Tags(filter) => tags(filter, dialect),
        Segment::Attribute(filter) => Condition::all().add(null_safe(attribute(filter, dialect))),
        Segment::Timezone(filter) => Condition::all().add(null_safe(
            Column::Timezone.is_in(filter.zones.iter().map(String::as_str)),
        )),
        Segment::CreatedAt(range) => time_range(Column::CreatedAt, range),
        Segment::UpdatedAt(range) => time_range(Column::UpdatedAt, range),
    }
}

/// SQL's NULL would make `NOT (zone IN …)` skip subscribers without a zone; a leaf that
/// cannot tell is false, so its negation is true.
fn null_safe(expr: SimpleExpr) -> SimpleExpr {
    Func::coalesce([expr, Expr::val(false)]).into()
}

fn time_range(column: Column, range: &TimeRange) -> Condition {
    let mut c = Condition::all();
    if let Some(after) = range.after {
        c = c.add(column.gte(after));
    }
    if let Some(before) = range.before {
        c = c.add(column.lt(before));
    }
    c
}

/// Subscribers carrying `tag` (also the tag filter of `GET /v1/subscribers`).
pub fn has_tag(tag: &str, dialect: Dialect) -> SimpleExpr {
    match dialect {
        Dialect::Postgres => Expr::cust_with_values(
            "subscribers.tags @> $1::jsonb",
            [Value::Array(vec![Value::String(tag.to_owned())]).to_string()],
        ),
        Dialect::Sqlite => Expr::cust_with_values(
            "EXISTS (SELECT 1 FROM json_each(subscribers.tags) WHERE json_each.value = ?)",
            [tag.to_owned()],
        ),
    }
}

fn tags(filter: &TagFilter, dialect: Dialect) -> Condition {
    match filter {
        TagFilter::Any(list) => list
            .iter()
            .fold(Condition::any(), |c, t| c.add(has_tag(t, dialect))),
        TagFilter::All(list) => list
            .iter()
            .fold(Condition::all(), |c, t| c.add(has_tag(t, dialect))),
        TagFilter::None(list) => list
            .iter()
            .fold(Condition::any(), |c, t| c.add(has_tag(t, dialect)))
            .not(),
    }
}

/// A JSON scalar as a bound SQL value of its own type (SQLite compares typed values).
fn sql_scalar(value: &Value) -> SqlValue {
    match value {
        Value::Bool(b) => SqlValue::from(*b),
        Value::Number(n) => n
            .as_i64()
            .map_or_else(|| SqlValue::from(n.as_f64().unwrap_or(0.0)), SqlValue::from),
        Value::String(s) => SqlValue::from(s.clone()),
        _ => SqlValue::from(value.to_string()),
    }
}

fn equals(key: &str, value: &Value, dialect: Dialect) -> SimpleExpr {
    match dialect {
        // jsonb equality compares type and value: "5" is not 5.
        Dialect::Postgres => Expr::cust_with_values(
            "subscribers.attributes -> $1 = $2::jsonb",
            [
                SqlValue::from(key.to_owned()),
                SqlValue::from(value.to_string()),
            ],
        ),
        Dialect::Sqlite => {
            let path = format!("$.{key}");
            match value {
                Value::Bool(b) => Expr::cust_with_values(
                    "json_type(subscribers.attributes, ?) = ?",
                    [path, if *b { "true" } else { "false" }.to_owned()],
                ),
                Value::String(_) => Expr::cust_with_values(
                    "(json_type(subscribers.attributes, ?) = 'text' AND json_extract(subscribers.attributes, ?) = ?)",
                    [
                        SqlValue::from(path.clone()),
                        SqlValue::from(path),
                        sql_scalar(value),
                    ],
                ),
                _ => Expr::cust_with_values(
                    "(json_type(subscribers.attributes, ?) IN ('integer', 'real') AND json_extract(subscribers.attributes, ?) = ?)",
                    [
                        SqlValue::from(path.clone()),
                        SqlValue::from(path),
                        sql_scalar(value),
                    ],
                ),
            }
        }
    }
}

fn compare(key: &str, op: &str, value: &Value, dialect: Dialect) -> SimpleExpr {
    match dialect {
        Dialect::Postgres => Expr::cust_with_values(
            format!(
                "(jsonb_typeof(subscribers.attributes -> $1) = 'number' \
                 AND (subscribers.attributes ->> $2)::numeric {op} $3::numeric)"
            ),
            [
                SqlValue::from(key.to_owned()),
                SqlValue::from(key.to_owned()),
                SqlValue::from(value.to_string()),
            ],
        ),
        Dialect::Sqlite => {
            let path = format!("$.{key}");
            Expr::cust_with_values(
                format!(
                    "(json_type(subscribers.attributes, ?) IN ('integer', 'real') \
                     AND json_extract(subscribers.attributes, ?) {op} ?)"
                ),
                [
                    SqlValue::from(path.clone()),
                    SqlValue::from(path),
                    sql_scalar(value),
                ],
            )
        }
    }
}

fn exists(key: &str, dialect: Dialect) -> SimpleExpr {
    match dialect {
        Dialect::Postgres => {
            Expr::cust_with_values("jsonb_exists(subscribers.attributes, $1)", [key.to_owned()])
        }
        Dialect::Sqlite => Expr::cust_with_values(
            "json_type(subscribers.attributes, ?) IS NOT NULL",
            [format!("$.{key}")],
        ),
    }
}

fn contains(key: &str, value: &Value, dialect: Dialect) -> SimpleExpr {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match dialect {
        Dialect::Postgres => Expr::cust_with_values(
            "((jsonb_typeof(subscribers.attributes -> $1) = 'string' \
               AND strpos(subscribers.attributes ->> $2, $3) > 0) \
              OR (jsonb_typeof(subscribers.attributes -> $4) = 'array' \
               AND subscribers.attributes -> $5 @> $6::jsonb))",
            [
                SqlValue::from(key.to_owned()),
                SqlValue::from(key.to_owned()),
                SqlValue::from(text),
                SqlValue::from(key.to_owned()),
                SqlValue::from(key.to_owned()),
                SqlValue::from(Value::Array(vec![value.clone()]).to_string()),
            ],
        ),
        Dialect::Sqlite => {
            let path = format!("$.{key}");
            Expr::cust_with_values(
                "((json_type(subscribers.attributes, ?) = 'text' \
                   AND instr(json_extract(subscribers.attributes, ?), ?) > 0) \
                  OR (json_type(subscribers.attributes, ?) = 'array' \
                   AND EXISTS (SELECT 1 FROM json_each(subscribers.attributes, ?) WHERE json_each.value = ?)))",
                [
                    SqlValue::from(path.clone()),
                    SqlValue::from(path.clone()),
                    SqlValue::from(text),
                    SqlValue::from(path.clone()),
                    SqlValue::from(path),
                    sql_scalar(value),
                ],
            )
        }
    }
}

fn attribute(filter: &AttributeFilter, dialect: Dialect) -> SimpleExpr {
    let key = filter.key.as_str();
    match filter.op {
        AttributeOp::Eq => equals(key, &filter.value, dialect),
        AttributeOp::Neq => null_safe(equals(key, &filter.value, dialect)).not(),
        AttributeOp::In => {
            let values = filter.value.as_array().cloned().unwrap_or_default();
            let mut any = values.iter().map(|v| equals(key, v, dialect));
            let first = any.next().unwrap_or_else(|| Expr::cust("FALSE"));
            any.fold(first, |acc, e| acc.or(e))
        }
        AttributeOp::Gt => compare(key, ">", &filter.value, dialect),
        AttributeOp::Lt => compare(key, "<", &filter.value, dialect),
        AttributeOp::Exists => exists(key, dialect),
        AttributeOp::Contains => contains(key, &filter.value, dialect),
    }
}
