//! Reports as CSV: records encoded by `csv-async` (which quotes what needs quoting) into
//! chunks of bytes, streamed for the HTTP layer to send as they are produced.

use chrono::{DateTime, SecondsFormat, Utc};
use csv_async::AsyncWriterBuilder;
use futures::{Stream, StreamExt, stream};

use super::funnel::FunnelRow;
use super::keys::GroupKey;
use super::outcomes::OutcomeReport;
use crate::campaigns::progress::FilteredBy;
use crate::error::Result;

/// Deliveries read per query (and records per chunk) when exporting.
pub const PAGE: u64 = 1_000;

/// A report as CSV: its header and one record per row.
pub trait CsvTable {
    fn header(&self) -> Vec<&'static str>;
    fn records(&self) -> Vec<Vec<String>>;
}

pub(super) async fn encode<R, F>(records: impl IntoIterator<Item = R>) -> Result<Vec<u8>>
where
    R: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    let mut writer = AsyncWriterBuilder::new().create_writer(Vec::new());
    for record in records {
        writer
            .write_record(
                record
                    .into_iter()
                    .map(|field| inert(field.as_ref()).into_owned()),
            )
            .await?;
    }
    Ok(writer.into_inner().await.map_err(csv_async::Error::from)?)
}

/// A cell a spreadsheet will not run: one that starts with `=`, `+`, `-`, `@`, a tab
/// or a carriage return (a formula, or how one is smuggled past a check) gets a leading
/// `'`, OWASP's rule against CSV injection. Reports hold no negative numbers, so no
/// number is changed; text from outside (names, ids, reasons) may be.
fn inert(field: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    match field.first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => {
            let mut quoted = Vec::with_capacity(field.len() + 1);
            quoted.push(b'\'');
            quoted.extend_from_slice(field);
            std::borrow::Cow::Owned(quoted)
        }
        _ => std::borrow::Cow::Borrowed(field),
    }
}

pub(super) fn text<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

pub(super) fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A report's CSV: the header, then its records in chunks of [`PAGE`].
pub fn table_csv(
    table: &(impl CsvTable + ?Sized),
) -> impl Stream<Item = Result<Vec<u8>>> + Send + 'static {
    let header: Vec<String> = table.header().into_iter().map(str::to_owned).collect();
    let mut chunks = vec![vec![header]];
    let mut records = table.records().into_iter().peekable();
    while records.peek().is_some() {
        chunks.push(records.by_ref().take(PAGE as usize).collect());
    }
    stream::iter(chunks).then(encode)
}

impl CsvTable for OutcomeReport {
    fn header(&self) -> Vec<&'static str> {
        let mut header = Vec::new();
        for key in &self.group_by {
            match key {
                GroupKey::Campaign => {
                    header.extend(["campaign_id", "campaign_name", "message_kind"]);
                }
                other => header.push(other.as_str()),
            }
        }
        header.push("count");
        header
    }

    fn records(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|row| {
                let mut record = Vec::new();
                for key in &self.group_by {
                    match key {
                        GroupKey::Campaign => {
                            record.push(text(row.campaign_id.flatten()));
                            record.push(text(row.campaign_name.clone().flatten()));
                            record.push(text(row.message_kind.map(|k| k.as_str())));
                        }
                        GroupKey::Channel => record.push(text(row.channel.as_ref())),
                        GroupKey::Day => record.push(text(row.day.as_ref())),
                        GroupKey::Status => record.push(text(row.status.as_ref())),
                    }
                }
                record.push(row.count.to_string());
                record
            })
            .collect()
    }
}

impl CsvTable for [FilteredBy] {
    fn header(&self) -> Vec<&'static str> {
        vec!["filter", "rule_id", "rule_name", "count"]
    }

    fn records(&self) -> Vec<Vec<String>> {
        self.iter()
            .map(|row| {
                vec![
                    row.filter.clone(),
                    text(row.rule_id),
                    text(row.rule_name.as_ref()),
                    row.count.to_string(),
                ]
            })
            .collect()
    }
}

impl CsvTable for [FunnelRow] {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "campaign_id",
            "campaign_name",
            "message_kind",
            "targeted",
            "sent",
            "delivered",
            "filtered",
            "failed",
            "dead",
            "queued",
            "deferred",
            "sending",
            "expired",
            "cancelled",
        ]
    }

    fn records(&self) -> Vec<Vec<String>> {
        self.iter()
            .map(|row| {
                let c = &row.counts;
                let mut record = vec![
                    text(row.campaign_id),
                    text(row.campaign_name.as_ref()),
                    row.message_kind.as_str().to_owned(),
                ];
                record.extend(
                    [
                        c.targeted,
                        c.sent,
                        c.delivered,
                        c.filtered,
                        c.failed,
                        c.dead,
                        c.queued,
                        c.deferred,
                        c.sending,
                        c.expired,
                        c.cancelled,
                    ]
                    .map(|n| n.to_string()),
                );
                record
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cells_a_spreadsheet_would_run_are_made_inert() {
        let cells = [
            "=HYPERLINK(\"http://x\",\"y\")",
            "+1",
            "-2+3",
            "@SUM(A1)",
            "\tcmd",
            "\rcmd",
            "plain",
            "42",
            "",
        ];
        let bytes = encode([cells]).await.unwrap();
        let mut reader = csv_async::AsyncReaderBuilder::new()
            .has_headers(false)
            .create_reader(&bytes[..]);
        let mut record = csv_async::StringRecord::new();
        reader.read_record(&mut record).await.unwrap();
        let read: Vec<&str> = record.iter().collect();
        assert_eq!(
            read,
            [
                "'=HYPERLINK(\"http://x\",\"y\")",
                "'+1",
                "'-2+3",
                "'@SUM(A1)",
                "'\tcmd",
                "'\rcmd",
                "plain",
                "42",
                "",
            ]
        );
    }
}
