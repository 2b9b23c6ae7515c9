//! Bulk import of subscribers from JSON lines or CSV, streamed: rows are validated one
//! by one, valid rows are upserted in batches, invalid rows are reported with their
//! line and field. Nothing is held in memory beyond one batch.

use std::collections::HashMap;

use futures::StreamExt;
use sea_orm::DatabaseConnection;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::io::AsyncRead;
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};
use utoipa::ToSchema;

use super::input::{SubscriberIn, is_attribute_key, parse_external_id};
use super::store;
use crate::audit::{self, AuditContext, Change};
use crate::db::is_postgres;
use crate::error::{Error, Result, serde_field_path};

/// Rows per multi-row upsert: large enough to amortise round trips, small enough to
/// stay under SQLite's bound-parameter limit (9 columns × 1,000 rows).
pub const BATCH_ROWS: usize = 1_000;
/// Rows per upsert on Postgres, where a batch is one array per column.
pub const BATCH_ROWS_POSTGRES: usize = 5_000;
/// Errors listed in the report; the count covers all of them.
pub const MAX_REPORTED_ERRORS: usize = 1_000;
const MAX_LINE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// One JSON object per line: `external_id` plus the fields of a subscriber.
    JsonLines,
    /// A header row naming columns: `external_id`, `email`, `phone`, `timezone`,
    /// `locale`, `tags` (separated by `;`) and `attributes.<key>` for each attribute.
    Csv,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ImportReport {
    /// Rows read (blank lines excluded).
    pub received: u64,
    /// Rows stored (created or replaced).
    pub imported: u64,
    /// Rows refused; each is listed in `errors` up to 1,000.
    pub failed: u64,
    pub errors: Vec<RowError>,
    /// True when more rows failed than `errors` lists.
    pub errors_truncated: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RowError {
    /// 1-based line number in the upload.
    pub line: u64,
    pub external_id: Option<String>,
    pub field: String,
    pub message: String,
}

type Batch = Vec<(String, SubscriberIn)>;

/// Collects valid rows into batches and hands each full batch to the writer, so the next
/// batch is parsed while the database stores the previous one.
struct Batcher {
    writer: mpsc::Sender<Batch>,
    batch_rows: usize,
    rows: Batch,
    index: HashMap<String, usize>,
    report: ImportReport,
}

impl Batcher {
    fn new(writer: mpsc::Sender<Batch>, batch_rows: usize) -> Self {
        Self {
            writer,
            batch_rows,
            rows: Vec::with_capacity(batch_rows),
            index: HashMap::with_capacity(batch_rows),
            report: ImportReport::default(),
        }
    }

    async fn accept(
        &mut self,
        line: u64,
        parsed: Result<(String, SubscriberIn), RowError>,
    ) -> Result<()> {
        self.report.received += 1;
        let (external_id, profile) =
            match parsed.and_then(|(id, profile)| validate(line, id, profile)) {
                Ok(row) => row,
                Err(error) => {
                    self.report.failed += 1;
                    if self.report.errors.len() < MAX_REPORTED_ERRORS {
                        self.report.errors.push(error);
                    } else {
                        self.report.errors_truncated = true;
                    }
                    return Ok(());
                }
            };
        // A later row for the same subscriber in one batch replaces the earlier one.
        if let Some(&at) = self.index.get(&external_id) {
            self.rows[at].1 = profile;
            self.report.imported += 1;
            return Ok(());
        }
        self.index.insert(external_id.clone(), self.rows.len());
        self.rows.push((external_id, profile));
        if self.rows.len() >= self.batch_rows {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::replace(&mut self.rows, Vec::with_capacity(self.batch_rows));
        self.index.clear();
        // A closed channel means the writer stopped on an error, which `import` reports.
        self.writer
            .send(rows)
            .await
            .map_err(|_| Error::Upload("the import stopped".into()))
    }
}

/// Stores batches in arrival order; returns the number of rows stored.
async fn write_batches(
    conn: DatabaseConnection,
    mut batches: mpsc::Receiver<Batch>,
) -> Result<u64> {
    let mut stored = 0;
    while let Some(batch) = batches.recv().await {
        stored += store::upsert_batch(&conn, batch).await?;
    }
    Ok(stored)
}

fn validate(
    line: u64,
    external_id: String,
    profile: SubscriberIn,
) -> Result<(String, SubscriberIn), RowError> {
    let row_error = |field: String, message: String| RowError {
        line,
        external_id: Some(external_id.clone()),
        field,
        message,
    };
    parse_external_id(&external_id).map_err(|e| describe(e, &row_error))?;
    let profile = profile.into_valid().map_err(|e| describe(e, &row_error))?;
    Ok((external_id, profile))
}

fn describe(error: Error, row_error: &impl Fn(String, String) -> RowError) -> RowError {
    match error {
        Error::Invalid { field, message } => row_error(field, message),
        other => row_error("row".into(), other.to_string()),
    }
}

/// Reads `reader` to the end and stores its valid rows.
pub async fn import<R>(
    conn: &DatabaseConnection,
    ctx: &AuditContext,
    format: ImportFormat,
    reader: R,
) -> Result<ImportReport>
where
    R: AsyncRead + Unpin + Send,
{
    // Postgres takes a batch as one array per column, so batches can be larger there.
    let batch_rows = if is_postgres(conn) {
        BATCH_ROWS_POSTGRES
    } else {
        BATCH_ROWS
    };
    let (sender, receiver) = mpsc::channel(2);
    // The writer is a task of its own, so parsing and the database work in parallel.
    let writer = tokio::spawn(write_batches(conn.clone(), receiver));
    let mut batcher = Batcher::new(sender, batch_rows);
    let read = match format {
        ImportFormat::JsonLines => read_json_lines(&mut batcher, reader).await,
        ImportFormat::Csv => read_csv(&mut batcher, reader).await,
    };
    let read = match read {
        Ok(()) => batcher.flush().await,
        Err(error) => Err(error),
    };
    let mut report = std::mem::take(&mut batcher.report);
    drop(batcher);
    let stored = writer
        .await
        .map_err(|e| Error::Upload(format!("the import writer failed: {e}")))??;
    read?;
    report.imported += stored;
    audit::record(
        conn,
        ctx,
        Change {
            action: "subscriber.import",
            target_kind: "subscriber",
            target_id: None,
            before: None,
            after: Some(serde_json::json!({
                "received": report.received,
                "imported": report.imported,
                "failed": report.failed,
            })),
        },
    )
    .await?;
    Ok(report)
}

async fn read_json_lines<R: AsyncRead + Unpin + Send>(
    batcher: &mut Batcher,
    reader: R,
) -> Result<()> {
    let mut lines = FramedRead::new(reader, LinesCodec::new_with_max_length(MAX_LINE_BYTES));
    let mut line_number = 0u64;
    while let Some(next) = lines.next().await {
        line_number += 1;
        let text = match next {
            Ok(text) => text,
            Err(LinesCodecError::MaxLineLengthExceeded) => {
                return Err(Error::invalid(
                    "body",
                    format!("line {line_number} is longer than {MAX_LINE_BYTES} bytes"),
                ));
            }
            Err(LinesCodecError::Io(e)) => return Err(Error::Upload(e.to_string())),
        };
        if text.trim().is_empty() {
            continue;
        }
        batcher
            .accept(line_number, parse_json_row(line_number, &text))
            .await?;
    }
    Ok(())
}

fn parse_json_row(line: u64, text: &str) -> Result<(String, SubscriberIn), RowError> {
    let error = |external_id: Option<String>, field: &str, message: String| RowError {
        line,
        external_id,
        field: field.to_owned(),
        message,
    };
    let mut object: Map<String, Value> = serde_json::from_str(text)
        .map_err(|e| error(None, "row", format!("not a JSON object: {e}")))?;
    let external_id = match object.remove("external_id") {
        Some(Value::String(id)) => id,
        Some(_) => return Err(error(None, "external_id", "must be a string".into())),
        None => return Err(error(None, "external_id", "is required".into())),
    };
    let profile = serde_path_to_error::deserialize::<_, SubscriberIn>(Value::Object(object))
        .map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().to_string();
            let field = serde_field_path(&path, &message, "row");
            error(Some(external_id.clone()), &field, message)
        })?;
    Ok((external_id, profile))
}

enum CsvColumn {
    ExternalId,
    Email,
    Phone,
    Timezone,
    Locale,
    Tags,
    Attribute(String),
}

fn csv_columns(headers: &csv_async::StringRecord) -> Result<Vec<CsvColumn>> {
    let mut columns = Vec::with_capacity(headers.len());
    for name in headers.iter() {
        let column = match name.trim() {
            "external_id" => CsvColumn::ExternalId,
            "email" => CsvColumn::Email,
            "phone" => CsvColumn::Phone,
            "timezone" => CsvColumn::Timezone,
            "locale" => CsvColumn::Locale,
            "tags" => CsvColumn::Tags,
            other => match other.strip_prefix("attributes.") {
                Some(key) if is_attribute_key(key) => CsvColumn::Attribute(key.to_owned()),
                _ => {
                    return Err(Error::invalid(
                        "header",
                        format!(
                            "unknown column `{other}`: use external_id, email, phone, timezone, locale, tags or attributes.<key>"
                        ),
                    ));
                }
            },
        };
        columns.push(column);
    }
    if !columns.iter().any(|c| matches!(c, CsvColumn::ExternalId)) {
        return Err(Error::invalid(
            "header",
            "an external_id column is required",
        ));
    }
    Ok(columns)
}

/// A CSV cell as an attribute value: numbers and booleans keep their type so that
/// segments can compare them.
fn typed_cell(cell: &str) -> Value {
    if let Ok(n) = cell.parse::<i64>() {
        return Value::from(n);
    }
    if let Ok(x) = cell.parse::<f64>()
        && x.is_finite()
    {
        return Value::from(x);
    }
    match cell {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(cell.to_owned()),
    }
}

async fn read_csv<R: AsyncRead + Unpin + Send>(batcher: &mut Batcher, reader: R) -> Result<()> {
    let mut csv = csv_async::AsyncReaderBuilder::new()
        .flexible(false)
        .create_reader(reader);
    let headers = csv.headers().await.map_err(csv_error)?.clone();
    let columns = csv_columns(&headers)?;
    let mut records = csv.records();
    while let Some(next) = records.next().await {
        let record = match next {
            Ok(record) => record,
            Err(e) if matches!(e.kind(), csv_async::ErrorKind::Io(_)) => return Err(csv_error(e)),
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let parsed = Err(RowError {
                    line,
                    external_id: None,
                    field: "row".into(),
                    message: e.to_string(),
                });
                batcher.accept(line, parsed).await?;
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let mut external_id = String::new();
        let mut profile = SubscriberIn::default();
        for (column, cell) in columns.iter().zip(record.iter()) {
            let cell = cell.trim();
            if cell.is_empty() {
                continue;
            }
            let text = || Some(cell.to_owned());
            match column {
                CsvColumn::ExternalId => external_id = cell.to_owned(),
                CsvColumn::Email => profile.email = text(),
                CsvColumn::Phone => profile.phone = text(),
                CsvColumn::Timezone => profile.timezone = text(),
                CsvColumn::Locale => profile.locale = text(),
                CsvColumn::Tags => {
                    profile.tags = cell.split(';').map(|t| t.trim().to_owned()).collect();
                }
                CsvColumn::Attribute(key) => {
                    profile.attributes.insert(key.clone(), typed_cell(cell));
                }
            }
        }
        batcher.accept(line, Ok((external_id, profile))).await?;
    }
    Ok(())
}

fn csv_error(error: csv_async::Error) -> Error {
    match error.kind() {
        csv_async::ErrorKind::Io(e) => Error::Upload(e.to_string()),
        _ => Error::invalid("body", error.to_string()),
    }
}
