//! External ids of list and file audiences, stored in batches. An uploaded file is
//! streamed: one id per line, or CSV whose first column (or `external_id` column) holds it.

use futures::StreamExt;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    TransactionTrait,
};
use serde::Serialize;
use tokio::io::AsyncRead;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};
use utoipa::ToSchema;

use crate::audit::{self, AuditContext, Change};
use crate::entities::{audience, audience_member};
use crate::error::{Error, Result};
use crate::error_code::ErrorCode;
use crate::subscribers::parse_external_id;

const BATCH: usize = 1_000;
const MAX_REPORTED: usize = 1_000;

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct MembersReport {
    /// Lines with an id.
    pub received: u64,
    /// Ids newly added (ids already present are not counted again).
    pub added: u64,
    /// Lines refused, 1-based, with why (first 1,000).
    pub invalid: Vec<InvalidLine>,
    pub member_count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvalidLine {
    pub line: u64,
    pub message: String,
}

/// Inserts ids, ignoring ones already present; returns how many were new (the rows the
/// insert reports, so no counting query per batch).
pub async fn insert(
    conn: &impl ConnectionTrait,
    audience_id: i64,
    ids: Vec<String>,
) -> Result<u64> {
    let mut added = 0;
    for chunk in ids.chunks(BATCH) {
        added += audience_member::Entity::insert_many(chunk.iter().map(|id| {
            audience_member::ActiveModel {
                audience_id: Set(audience_id),
                external_id: Set(id.clone()),
            }
        }))
        .on_conflict(
            OnConflict::columns([
                audience_member::Column::AudienceId,
                audience_member::Column::ExternalId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    }
    Ok(added)
}

async fn count(conn: &impl ConnectionTrait, audience_id: i64) -> Result<u64> {
    Ok(audience_member::Entity::find()
        .filter(audience_member::Column::AudienceId.eq(audience_id))
        .count(conn)
        .await?)
}

pub async fn refresh_count(
    conn: &impl ConnectionTrait,
    audience_id: i64,
) -> Result<audience::Model> {
    let total = count(conn, audience_id).await? as i64;
    audience::Entity::update_many()
        .col_expr(
            audience::Column::MemberCount,
            sea_orm::sea_query::Expr::value(total),
        )
        .col_expr(
            audience::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now()),
        )
        .filter(audience::Column::Id.eq(audience_id))
        .exec(conn)
        .await?;
    super::store::get(conn, audience_id).await
}

/// The id on one line of an upload: the whole line, or the first CSV cell.
fn id_of(line: &str) -> &str {
    let first = line.split(',').next().unwrap_or("");
    first.trim().trim_matches('"')
}

/// Streams an upload of ids into a list or file audience.
pub async fn upload<C, R>(
    conn: &C,
    ctx: &AuditContext,
    audience_id: i64,
    reader: R,
) -> Result<MembersReport>
where
    C: ConnectionTrait + TransactionTrait,
    R: AsyncRead + Unpin + Send,
{
    let target = super::store::get(conn, audience_id).await?;
    if !matches!(target.kind.as_str(), "list" | "file") {
        return Err(Error::conflict(
            ErrorCode::AudienceNotAList,
            "only list and file audiences take members",
        ));
    }
    let mut report = MembersReport::default();
    let mut batch = Vec::with_capacity(BATCH);
    let mut lines = FramedRead::new(reader, LinesCodec::new_with_max_length(4096));
    let mut number = 0u64;
    while let Some(next) = lines.next().await {
        number += 1;
        let text = match next {
            Ok(text) => text,
            Err(LinesCodecError::MaxLineLengthExceeded) => {
                return Err(Error::invalid("body", format!("line {number} is too long")));
            }
            Err(LinesCodecError::Io(e)) => return Err(Error::Upload(e.to_string())),
        };
        let id = id_of(&text);
        if id.is_empty() || (number == 1 && id == "external_id") {
            continue;
        }
        report.received += 1;
        match parse_external_id(id) {
            Ok(id) => batch.push(id.to_owned()),
            Err(e) => {
                if report.invalid.len() < MAX_REPORTED {
                    report.invalid.push(InvalidLine {
                        line: number,
                        message: e.to_string(),
                    });
                }
            }
        }
        if batch.len() >= BATCH {
            report.added += insert(conn, audience_id, std::mem::take(&mut batch)).await?;
        }
    }
    report.added += insert(conn, audience_id, batch).await?;
    report.member_count = refresh_count(conn, audience_id).await?.member_count;
    audit::record(
        conn,
        ctx,
        Change {
            action: "audience.members.upload",
            target_kind: "audience",
            target_id: Some(audience_id.to_string()),
            before: None,
            after: Some(serde_json::json!({ "received": report.received, "added": report.added })),
        },
    )
    .await?;
    Ok(report)
}
