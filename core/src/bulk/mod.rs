//! Set-based writes of many rows.
//!
//! The rows go to the database as one JSON parameter unpacked by the statement
//! (`json_to_recordset` on Postgres, `json_each` on SQLite), so the statement's text is
//! the same for ten rows or ten thousand: it is prepared once and its plan reused. A
//! multi-row `VALUES` list with thousands of parameters costs Postgres more to parse
//! and plan than to execute (measured while planning a campaign: 1,000 ledger rows took
//! ~60 ms as `VALUES`), and on SQLite each new row count was a new statement to prepare.

use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, DbErr, EntityName, EntityTrait, FromQueryResult,
    Iden, IdenStatic, Iterable, Statement, Value,
};

use crate::error::Result;

mod copy;
mod int_rows;
pub use copy::copy_all;
pub(crate) use int_rows::IntRows;

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
    if let Some(statement) = statement(conn, &rows, skip_conflicts_on, Returning::Nothing)? {
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
    match statement(conn, &rows, skip_conflicts_on, Returning::All)? {
        Some(statement) => Ok(
            <A::Entity as EntityTrait>::Model::find_by_statement(statement)
                .all(conn)
                .await?,
        ),
        None => Ok(Vec::new()),
    }
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
    match statement(conn, &rows, skip_conflicts_on, Returning::Columns(columns))? {
        Some(statement) => Ok(R::find_by_statement(statement).all(conn).await?),
        None => Ok(Vec::new()),
    }
}

/// One statement inserting every row (none when there are no rows).
fn statement<A>(
    conn: &impl ConnectionTrait,
    rows: &[A],
    skip_conflicts_on: &[<A::Entity as EntityTrait>::Column],
    returning: Returning<'_, <A::Entity as EntityTrait>::Column>,
) -> Result<Option<Statement>>
where
    A: ActiveModelTrait,
{
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let backend = conn.get_database_backend();
    let columns: Vec<_> = <A::Entity as EntityTrait>::Column::iter()
        .filter(|column| first.get(*column).is_set())
        .collect();
    let sql = insert_sql::<A>(backend, first, &columns, skip_conflicts_on, returning)?;
    let json = rows_as_json(backend, rows, &columns)?;
    Ok(Some(Statement::from_sql_and_values(
        backend,
        sql,
        [Value::from(json)],
    )))
}

/// The insert of `columns` from the rows in the statement's one JSON parameter.
fn insert_sql<A>(
    backend: DbBackend,
    first: &A,
    columns: &[<A::Entity as EntityTrait>::Column],
    skip_conflicts_on: &[<A::Entity as EntityTrait>::Column],
    returning: Returning<'_, <A::Entity as EntityTrait>::Column>,
) -> Result<String>
where
    A: ActiveModelTrait,
{
    let names: Vec<String> = columns.iter().map(quoted).collect();
    let names = names.join(", ");
    let source = if backend == DbBackend::Postgres {
        let mut definitions = Vec::with_capacity(columns.len());
        for column in columns {
            let value = first.get(*column).into_value().unwrap_or(Value::Bool(None));
            definitions.push(format!("{} {}", quoted(column), sql_type(&value)?));
        }
        format!(
            "SELECT {names} FROM json_to_recordset($1::json) AS r({})",
            definitions.join(", ")
        )
    } else {
        // Each row is an array; SQLite caches the parse of the row it reads a field of.
        // The WHERE keeps its parser from reading `ON CONFLICT` as a join's ON.
        let fields: Vec<String> = (0..columns.len())
            .map(|index| format!("json_extract(value, '$[{index}]')"))
            .collect();
        format!("SELECT {} FROM json_each(?) WHERE true", fields.join(", "))
    };
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
    Ok(format!(
        "INSERT INTO \"{table}\" ({names}) {source}{conflict}{returning}",
        table = A::Entity::default().table_name(),
    ))
}

/// The rows as one JSON array, written straight into one buffer (no value tree per
/// row): objects keyed by column on Postgres, arrays in column order on SQLite.
fn rows_as_json<A>(
    backend: DbBackend,
    rows: &[A],
    columns: &[<A::Entity as EntityTrait>::Column],
) -> Result<String>
where
    A: ActiveModelTrait,
{
    let postgres = backend == DbBackend::Postgres;
    let keys: Vec<String> = columns
        .iter()
        .map(|column| format!("{}:", serde_json::Value::from(column.as_str())))
        .collect();
    let (open, close) = if postgres { (b'{', b'}') } else { (b'[', b']') };
    let mut json = Vec::with_capacity(rows.len() * 64 * columns.len().max(1));
    json.push(b'[');
    for (index, row) in rows.iter().enumerate() {
        if index > 0 {
            json.push(b',');
        }
        json.push(open);
        for (position, (column, key)) in columns.iter().zip(&keys).enumerate() {
            if position > 0 {
                json.push(b',');
            }
            if postgres {
                json.extend_from_slice(key.as_bytes());
            }
            let value = row.get(*column).into_value().unwrap_or(Value::Bool(None));
            write_json(&mut json, &value, backend)?;
        }
        json.push(close);
    }
    json.push(b']');
    String::from_utf8(json).map_err(|e| DbErr::Custom(e.to_string()).into())
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
/// no spelling for it. On SQLite, where a time and a JSON document are stored as text,
/// they are written as the text sqlx would have bound, so rows written here compare
/// and read back like rows written one by one.
fn write_json(out: &mut Vec<u8>, value: &Value, backend: DbBackend) -> Result<()> {
    use std::io::Write;
    let written = match value {
        Value::Bool(Some(v)) => write!(out, "{v}"),
        Value::SmallInt(Some(v)) => write!(out, "{v}"),
        Value::Int(Some(v)) => write!(out, "{v}"),
        Value::BigInt(Some(v)) => write!(out, "{v}"),
        Value::Double(Some(v)) if v.is_finite() => write!(out, "{v}"),
        Value::Json(Some(json)) if backend == DbBackend::Sqlite => {
            serde_json::to_writer(&mut *out, &json.to_string()).map_err(Into::into)
        }
        // Embedded as itself: the column reads it as jsonb.
        Value::Json(Some(json)) => serde_json::to_writer(&mut *out, json).map_err(Into::into),
        Value::String(Some(text)) => serde_json::to_writer(&mut *out, text).map_err(Into::into),
        Value::ChronoDateTimeUtc(Some(at)) => {
            let at = if backend == DbBackend::Sqlite {
                at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
            } else {
                at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            };
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
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};

    use super::*;
    use crate::entities::message;

    fn spelled(value: Value) -> String {
        let mut out = Vec::new();
        write_json(&mut out, &value, DbBackend::Postgres).unwrap();
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

    fn message(sender: &str, at: chrono::DateTime<chrono::Utc>) -> message::ActiveModel {
        message::ActiveModel {
            kind: Set("transactional".to_owned()),
            category: Set("news".to_owned()),
            data: Set(serde_json::json!({ "text": "a\tb \"c\"", "n": 1.5 })),
            channels: Set(serde_json::json!(["inbox"])),
            content: Set(Some(serde_json::json!("just a string"))),
            sender: Set(sender.to_owned()),
            expires_at: Set(None),
            created_at: Set(at),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn rows_written_in_bulk_on_sqlite_read_back_as_rows_written_one_by_one() {
        let mut options = sea_orm::ConnectOptions::new("sqlite::memory:");
        options.max_connections(1).sqlx_logging(false);
        let db = sea_orm::Database::connect(options).await.unwrap();
        let schema = sea_orm::Schema::new(DbBackend::Sqlite);
        db.execute(&schema.create_table_from_entity(message::Entity))
            .await
            .unwrap();
        // A time with nanoseconds, one with none: sqlx spells each its own way.
        let times = [
            chrono::DateTime::from_timestamp(1_780_000_000, 123_456_789).unwrap(),
            chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap(),
        ];
        for at in times {
            message("one by one", at).insert(&db).await.unwrap();
        }
        let bulk = || times.map(|at| message("in bulk", at)).to_vec();
        let text = |rows: &[message::ActiveModel]| {
            let returning = Returning::<message::Column>::Nothing;
            statement(&db, rows, &[], returning).unwrap().unwrap().sql
        };
        assert_eq!(
            text(&bulk()),
            text(&bulk()[..1]),
            "the text does not depend on the count"
        );
        insert_all(&db, bulk(), &[]).await.unwrap();

        let stored = |sender: &'static str| {
            let db = &db;
            async move {
                db.query_all_raw(Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    "SELECT created_at, data, content, expires_at IS NULL AS no_expiry \
                     FROM messages WHERE sender = ? ORDER BY id",
                    [sender.into()],
                ))
                .await
                .unwrap()
                .iter()
                .map(|row| {
                    let text = |column| row.try_get::<Option<String>>("", column).unwrap();
                    let no_expiry: bool = row.try_get("", "no_expiry").unwrap();
                    (text("created_at"), text("data"), text("content"), no_expiry)
                })
                .collect::<Vec<_>>()
            }
        };
        let (single, bulk_rows) = (stored("one by one").await, stored("in bulk").await);
        assert_eq!(single.len(), 2);
        assert_eq!(bulk_rows, single, "the same text in every column");
        let read: Vec<message::Model> = message::Entity::find().all(&db).await.unwrap();
        assert_eq!(read[2].data, read[0].data);
        assert_eq!(read[3].created_at, times[1]);
    }
}
