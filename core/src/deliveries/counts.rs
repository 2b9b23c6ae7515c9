//! One message's deliveries counted by where they stand, in one aggregate over the
//! delivery log and its shared entries: what a send answers, what a recall withdrew
//! and a campaign's live counters all read this.

use sea_orm::sea_query::{Alias, Expr, Func, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, ExprTrait, FromQueryResult};

use super::DeliveryStatus;
use crate::channel::ChannelKind;
use crate::entities::delivery;
use crate::error::Result;

/// Deliveries of one message with the same status, channel, filter and rule.
#[derive(Debug, FromQueryResult)]
pub(crate) struct Group {
    pub status: String,
    pub channel: String,
    pub filter: Option<String>,
    pub rule_id: Option<i64>,
    pub count: i64,
    /// Those handed to a channel at least once.
    pub sent: i64,
}

impl Group {
    pub fn is(&self, status: DeliveryStatus) -> bool {
        self.status == status.as_str()
    }

    pub fn counted(&self) -> u64 {
        u64::try_from(self.count).unwrap_or(0)
    }
}

/// The deliveries of message `message_id`, counted by status, channel, filter and rule.
pub(crate) async fn of_message(conn: &impl ConnectionTrait, message_id: i64) -> Result<Vec<Group>> {
    let sent = Expr::case(delivery::Column::Attempts.into_expr().gt(0), 1).finally(0);
    let query = Query::select()
        .columns([
            delivery::Column::Status,
            delivery::Column::Channel,
            delivery::Column::Filter,
            delivery::Column::RuleId,
        ])
        .expr_as(
            Func::count(Expr::col(delivery::Column::Id)),
            Alias::new("count"),
        )
        .expr_as(Func::sum(sent), Alias::new("sent"))
        .from(delivery::Entity)
        .and_where(delivery::Column::MessageId.eq(message_id))
        .group_by_columns([
            delivery::Column::Status,
            delivery::Column::Channel,
            delivery::Column::Filter,
            delivery::Column::RuleId,
        ])
        .to_owned();
    let statement = conn.get_database_backend().build(&query);
    let mut groups = Group::find_by_statement(statement).all(conn).await?;
    // A shared item's delivered recipients are log entries without a row.
    let shared =
        i64::try_from(super::shared::count_of_message(conn, message_id).await?).unwrap_or(i64::MAX);
    if shared > 0 {
        let delivered = |g: &Group| {
            g.is(DeliveryStatus::Delivered)
                && g.channel == ChannelKind::Inbox.as_str()
                && g.filter.is_none()
                && g.rule_id.is_none()
        };
        match groups.iter_mut().find(|g| delivered(g)) {
            Some(group) => {
                group.count += shared;
                group.sent += shared;
            }
            None => groups.push(Group {
                status: DeliveryStatus::Delivered.as_str().to_owned(),
                channel: ChannelKind::Inbox.as_str().to_owned(),
                filter: None,
                rule_id: None,
                count: shared,
                sent: shared,
            }),
        }
    }
    Ok(groups)
}
