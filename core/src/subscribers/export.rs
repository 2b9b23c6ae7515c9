//! Everything Herald holds on one subscriber, for their right of access: profile,
//! endpoints, preferences, every inbox item (archived ones too) and every delivery in
//! the log. Reading it is audited, as a disclosure of personal data.

use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionSession, TransactionTrait,
};

use super::{endpoints, preferences, store};
use crate::audit::{self, AuditContext, Change};
use crate::deliveries::log::{self, DeliveryEntry, DeliveryFilter, LogCursor};
use crate::entities::{inbox_item, subscriber, subscriber_endpoint};
use crate::error::Result;
use crate::inbox::InboxItem;
use crate::subscribers::preferences::Preference;

/// Deliveries read per query while the log is collected.
const LOG_PAGE: u64 = 1_000;

pub struct Export {
    pub subscriber: subscriber::Model,
    pub endpoints: Vec<subscriber_endpoint::Model>,
    pub preferences: Vec<Preference>,
    /// Oldest first.
    pub inbox: Vec<InboxItem>,
    /// Newest first.
    pub deliveries: Vec<DeliveryEntry>,
}

/// The subscriber `external_id`'s data, read in one transaction with its audit record.
pub async fn export(
    conn: &impl TransactionTrait,
    ctx: &AuditContext,
    external_id: &str,
) -> Result<Export> {
    let txn = crate::db::begin_write(conn).await?;
    let found = store::find(&txn, external_id).await?;
    let mut inbox: Vec<InboxItem> = inbox_item::Entity::find()
        .filter(inbox_item::Column::SubscriberId.eq(found.id))
        .order_by_asc(inbox_item::Column::Id)
        .all(&txn)
        .await?
        .into_iter()
        .map(InboxItem::from)
        .collect();
    inbox.extend(crate::inbox::shared::all_of(&txn, found.id).await?);
    inbox.sort_unstable_by_key(|item| item.id);
    let filter = DeliveryFilter {
        subscriber: Some(external_id.to_owned()),
        ..DeliveryFilter::default()
    };
    let mut deliveries: Vec<DeliveryEntry> = Vec::new();
    let mut from = Some(LogCursor::START);
    while let Some(cursor) = from {
        let (page, next) = log::list(&txn, &filter, cursor, LOG_PAGE).await?;
        deliveries.extend(page);
        from = next;
    }
    let export = Export {
        endpoints: endpoints::list(&txn, found.id).await?,
        preferences: preferences::get(&txn, found.id).await?,
        subscriber: found,
        inbox,
        deliveries,
    };
    audit::record(
        &txn,
        ctx,
        Change {
            action: "subscriber.export",
            target_kind: "subscriber",
            target_id: Some(external_id.to_owned()),
            before: None,
            after: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(export)
}
