//! A list or file audience frozen at approval. Its members are copied into
//! `campaign_audiences` in the approval's transaction with one `INSERT … SELECT` (a
//! million members are one statement, never a query per member), and the campaign is
//! sent to exactly those subscribers: ids added to the list afterwards are not sent to.
//! External ids that named no subscriber at approval are not part of the snapshot.
//!
//! Segments and "all" are filters evaluated when the campaign is sent, by definition;
//! the approval covers their definition (see [`super::review`]).

use sea_orm::sea_query::{Condition, Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::audiences::store::condition_for;
use crate::entities::{audience, campaign, campaign_audience, subscriber};
use crate::error::{Error, Result};

/// Whether an audience of this kind is frozen at approval.
pub(crate) fn is_frozen(audience: &audience::Model) -> bool {
    matches!(audience.kind.as_str(), "list" | "file")
}

/// Replaces the campaign's snapshot with the audience's members now; returns its size.
pub(crate) async fn take(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    audience: &audience::Model,
) -> Result<u64> {
    discard(conn, campaign_id).await?;
    let members = Query::select()
        .expr(Expr::val(campaign_id))
        .column((subscriber::Entity, subscriber::Column::Id))
        .from(subscriber::Entity)
        .cond_where(condition_for(conn, audience)?)
        .to_owned();
    let insert = Query::insert()
        .into_table(campaign_audience::Entity)
        .columns([
            campaign_audience::Column::CampaignId,
            campaign_audience::Column::SubscriberId,
        ])
        .select_from(members)
        .map_err(|_| Error::Internal("the snapshot's insert names two columns"))?
        .to_owned();
    let statement = conn.get_database_backend().build(&insert);
    Ok(conn.execute_raw(statement).await?.rows_affected())
}

/// Drops the campaign's snapshot (edited, invalidated, finished).
pub(crate) async fn discard(conn: &impl ConnectionTrait, campaign_id: i64) -> Result<()> {
    campaign_audience::Entity::delete_many()
        .filter(campaign_audience::Column::CampaignId.eq(campaign_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// How many subscribers the campaign's snapshot holds.
pub(crate) async fn size(conn: &impl ConnectionTrait, campaign_id: i64) -> Result<u64> {
    Ok(campaign_audience::Entity::find()
        .filter(campaign_audience::Column::CampaignId.eq(campaign_id))
        .count(conn)
        .await?)
}

/// The SQL condition selecting the subscribers the campaign goes to after `after_id`
/// (one keyset page): an approved campaign's snapshot for a list or file audience, the
/// audience's own filter otherwise. The bound is repeated inside the snapshot's subquery
/// because Postgres does not carry a range across the join: without it each page
/// re-read the snapshot from its start (236 ms for the last page of a million, 0.8 ms
/// with it).
pub fn recipients(
    conn: &impl ConnectionTrait,
    model: &campaign::Model,
    audience: &audience::Model,
    after_id: Option<i64>,
) -> Result<Condition> {
    if !(is_frozen(audience) && model.approved_hash.is_some()) {
        return condition_for(conn, audience);
    }
    let mut members = Query::select()
        .column(campaign_audience::Column::SubscriberId)
        .from(campaign_audience::Entity)
        .and_where(campaign_audience::Column::CampaignId.eq(model.id))
        .to_owned();
    if let Some(after) = after_id {
        members.and_where(campaign_audience::Column::SubscriberId.gt(after));
    }
    Ok(Condition::all().add(subscriber::Column::Id.in_subquery(members)))
}
