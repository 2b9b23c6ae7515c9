//! Set-based writes of many rows.
//!
//! Postgres receives the rows as one JSON parameter unpacked by `json_to_recordset`,
//! so the statement has the same small size for ten rows or ten thousand. A multi-row
//! `VALUES` list with thousands of parameters costs Postgres more to parse and plan
//! than to execute (measured while planning a campaign: 1,000 ledger rows took ~60 ms
//! as `VALUES`). SQLite gets multi-row inserts in chunks under its parameter limit.

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbErr, EntityName, EntityTrait, FromQueryResult, Iden,
    IdenStatic, Iterable, QueryTrait, Statement, Value,
};

use crate::db::is_postgres;
use crate::error::Result;

mod copy;
mod pairs;
pub use copy::copy_all;
pub(crate) use pairs::PairRows;

/// Rows per statement on SQLite: under its parameter limit with room to spare.
const SQLITE_CHUNK: usize = 1_000;

/// Inserts `rows` (each setting the same columns); with `skip_conflicts_on`, rows that
/// collide with an existing one on those columns are skipped.
pub async fn insert_all<A>(
    conn: &impl ConnectionTrait,
    rows: Vec<A>,
    skip_conflicts_on: &[<A::Entity as EntityTrait>::Column],
) -> Result<()>
where
    A: ActiveModelTrait + Send,
{
    for statement in statements(conn, rows, skip_conflicts_on, Returning::Nothing)? {
        conn.execute_raw(statement).await?;
    }
    Ok(())
}

/// What an insert answers about the rows it inserted.
#[derive(Clone, Copy)]
enum Returning<'a, C> {
    Nothing,
    All,
    Columns(&'a [C]),
}

/// [`insert_all`], answering the rows it inserted (not the skipped ones), in no
/// particular order.
pub async fn insert_all_returning<A>(
    conn: &impl ConnectionTrait,
    rows: Vec<A>,
    skip_conflicts_on: &[<A::Entity as EntityTrait>::Column],
) -> Result<Vec<<A::Entity as EntityTrait>::Model>>
where
    A: ActiveModelTrait + Send,
{
    let mut inserted = Vec::with_capacity(rows.len());
    for statement in statements(conn, rows, skip_conflicts_on, Returning::All)? {
        inserted.extend(
            <A::Entity as EntityTrait>::Model::find_by_statement(statement)
                .all(conn)
                .await?,
        );
    }
    Ok(inserted)
}

/// [`insert_all_returning`], answering only `columns` of the rows it inserted, as `R`:
/// a wide row read back whole costs more than writing it.
pub async fn insert_all_returning_columns<A, R>(
    conn: &impl ConnectionTrait,
    rows: Vec<A>,
    skip_conflicts_on: &[<A::Entity as EntityTrait>::Column],
    columns: &[<A::Entity as EntityTrait>::Column],
) -> Result<Vec<R>>
where
    A: ActiveModelTrait + Send,
    R: FromQueryResult,
{
    let mut inserted = Vec::with_capacity(rows.len());
    let returning = Returning::Columns(columns);
    for statement in statements(conn, rows, skip_conflicts_on, returning)? {
        inserted.extend(R::find_by_statement(statement).all(conn).await?);
    }
    Ok(inserted)
}

fn statements<A>(
    conn: &impl ConnectionTrait,
    mut rows: Vec<A>,
    skip_conflicts_on: &[<A::Entity as EntityTrait>::Column],
    returning: Returning<'_, <A::Entity as EntityTrait>::Column>,
) -> Result<Vec<Statement>>
where
    A: ActiveModelTrait + Send,
{
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    if is_postgres(conn) {
        return Ok(vec![as_json(conn, &rows, skip_conflicts_on, returning)?]);
    }
    let mut statements = Vec::with_capacity(rows.len().div_ceil(SQLITE_CHUNK));
    while !rows.is_empty() {
        let rest = rows.split_off(rows.len().min(SQLITE_CHUNK));
        let mut insert = A::Entity::insert_many(std::mem::replace(&mut rows, rest)).into_query();
        if !skip_conflicts_on.is_empty() {
            insert.on_conflict(
                OnConflict::columns(skip_conflicts_on.iter().copied())
                    .do_nothing()
                    .to_owned(),
            );
        }
        match returning {
            Returning::Nothing => {}
            Returning::All => {
                insert.returning_all();
            }
            Returning::Columns(columns) => {
                insert.returning(
                    sea_orm::sea_query::Query::returning().columns(columns.iter().copied()),
                );
            }
        }
        statements.push(conn.get_database_backend().build(&insert));
    }
    Ok(statements)
}

fn as_json<A>(
    conn: &impl ConnectionTrait,
    rows: &[A],
    skip_conflicts_on: &[<A::Entity as EntityTrait>::Column],
    returning: Returning<'_, <A::Entity as EntityTrait>::Column>,
) -> Result<Statement>
where
    A: ActiveModelTrait,
{
    let columns: Vec<_> = <A::Entity as EntityTrait>::Column::iter()
        .filter(|column| rows[0].get(*column).is_set())
        .collect();
    let mut definitions = Vec::with_capacity(columns.len());
    for column in &columns {
        let value = rows[0]
            .get(*column)
            .into_value()
            .unwrap_or(Value::Bool(None));
        definitions.push(format!("{} {}", quoted(column), sql_type(&value)?));
    }
    // Each row as a JSON object written straight into one buffer: no value tree per row.
    let keys: Vec<String> = columns
        .iter()
        .map(|column| format!("{}:", serde_json::Value::from(column.as_str())))
        .collect();
    let mut json = Vec::with_capacity(rows.len() * 64 * columns.len().max(1));
    json.push(b'[');
    for (index, row) in rows.iter().enumerate() {
        if index > 0 {
            json.push(b',');
        }
        json.push(b'{');
        for (position, (column, key)) in columns.iter().zip(&keys).enumerate() {
            if position > 0 {
                json.push(b',');
            }
            json.extend_from_slice(key.as_bytes());
            let value = row.get(*column).into_value().unwrap_or(Value::Bool(None));
            write_json(&mut json, &value)?;
        }
        json.push(b'}');
    }
    json.push(b']');
    let json = String::from_utf8(json).map_err(|e| DbErr::Custom(e.to_string()))?;
    let names: Vec<String> = columns.iter().map(quoted).collect();
    let names = names.join(", ");
    let conflict = if skip_conflicts_on.is_empty() {
        String::new()
    } else {
        let keys: Vec<String> = skip_conflicts_on.iter().map(quoted).collect();
        format!(" ON CONFLICT ({}) DO NOTHING", keys.join(", "))
    };
    let returning = match returning {
        Returning::Nothing => String::new(),
        Returning::All => " RETURNING *".to_owned(),
        Returning::Columns(columns) => {
            let names: Vec<String> = columns.iter().map(quoted).collect();
            format!(" RETURNING {}", names.join(", "))
        }
    };
    let sql = format!(
        "INSERT INTO \"{table}\" ({names}) SELECT {names} FROM json_to_recordset($1::json) AS r({}){conflict}{returning}",
        definitions.join(", "),
        table = A::Entity::default().table_name(),
    );
    Ok(Statement::from_sql_and_values(
        conn.get_database_backend(),
        sql,
        [Value::from(json)],
    ))
}

fn quoted(column: &impl Iden) -> String {
    format!("\"{}\"", column.to_string())
}

/// The Postgres type a column's value is read back as.
fn sql_type(value: &Value) -> Result<&'static str> {
    Ok(match value {
        Value::Bool(_) => "boolean",
        Value::SmallInt(_) => "smallint",
        Value::Int(_) => "integer",
        Value::BigInt(_) => "bigint",
        Value::Double(_) => "double precision",
        Value::String(_) => "text",
        Value::Json(_) => "jsonb",
        Value::ChronoDateTimeUtc(_) => "timestamptz",
        other => return Err(unsupported(other)),
    })
}

/// Appends `value` to `out` as JSON. A number that is not finite is null, as JSON has
/// no spelling for it.
fn write_json(out: &mut Vec<u8>, value: &Value) -> Result<()> {
    use std::io::Write;
    let written = match value {
        Value::Bool(Some(v)) => write!(out, "{v}"),
        Value::SmallInt(Some(v)) => write!(out, "{v}"),
        Value::Int(Some(v)) => write!(out, "{v}"),
        Value::BigInt(Some(v)) => write!(out, "{v}"),
        Value::Double(Some(v)) if v.is_finite() => write!(out, "{v}"),
        // Embedded as itself: the column reads it as jsonb.
        Value::Json(Some(json)) => serde_json::to_writer(&mut *out, json).map_err(Into::into),
        Value::String(Some(text)) => serde_json::to_writer(&mut *out, text).map_err(Into::into),
        Value::ChronoDateTimeUtc(Some(at)) => {
            let at = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            serde_json::to_writer(&mut *out, &at).map_err(Into::into)
        }
        Value::Double(Some(_)) => {
            out.extend_from_slice(b"null");
            Ok(())
        }
        value if is_null(value) => {
            out.extend_from_slice(b"null");
            Ok(())
        }
        other => return Err(unsupported(other)),
    };
    written.map_err(|e| DbErr::Custom(e.to_string()).into())
}

/// A null of one of the kinds bulk writes support.
fn is_null(value: &Value) -> bool {
    matches!(
        value,
        Value::Bool(None)
            | Value::SmallInt(None)
            | Value::Int(None)
            | Value::BigInt(None)
            | Value::Double(None)
            | Value::String(None)
            | Value::Json(None)
            | Value::ChronoDateTimeUtc(None)
    )
}

fn unsupported(value: &Value) -> crate::error::Error {
    DbErr::Custom(format!(
        "bulk insert of a value of this kind is not supported: {value:?}"
    ))
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spelled(value: Value) -> String {
        let mut out = Vec::new();
        write_json(&mut out, &value).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn values_are_spelled_as_json() {
        assert_eq!(
            spelled(Value::from("a\t\"b\"\\c\nd")),
            r#""a\t\"b\"\\c\nd""#
        );
        assert_eq!(spelled(Value::String(None)), "null");
        assert_eq!(spelled(Value::Double(Some(f64::NAN))), "null");
        assert_eq!(spelled(Value::BigInt(Some(-42))), "-42");
        assert_eq!(spelled(Value::Bool(Some(true))), "true");
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-05T10:00:00.5Z")
            .unwrap()
            .to_utc();
        assert_eq!(spelled(Value::from(at)), r#""2026-12-05T10:00:00.500000Z""#);
        let json = Value::from(serde_json::json!({"k": "a\tb"}));
        assert_eq!(spelled(json), r#"{"k":"a\tb"}"#);
    }
}
