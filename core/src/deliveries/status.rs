//! Where a delivery stands. `queued`, `deferred` and `sending` are on the way; the rest
//! are final.

use sea_orm::sea_query::{Expr, SimpleExpr};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The predicate of the partial index over unfinished deliveries, as the migration
/// created it (`idx_deliveries_unfinished`). SQLite uses a partial index only for a
/// query whose WHERE contains the index's own terms: `status = ?`, even bound to
/// 'queued', does not imply them, and the query scans the whole delivery log instead.
/// Queries for unfinished deliveries add this term; Postgres finds the index either way.
pub(crate) fn unfinished() -> SimpleExpr {
    Expr::cust("deliveries.status IN ('queued', 'deferred', 'sending')")
}

/// The predicate of the partial index over dead letters (`idx_deliveries_dead`), for
/// the same reason. SQLite runs with plans that never depend on bound values
/// (`SQLITE_ENABLE_QPSG`, see `.cargo/config.toml`), so `status = ?` bound to 'dead'
/// does not reach this index either.
pub(crate) fn dead_letter() -> SimpleExpr {
    Expr::cust("deliveries.status = 'dead'")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Queued,
    /// A rule, an opt-out, a list entry or a missing address stopped it.
    Filtered,
    /// Waiting for quiet hours to end.
    Deferred,
    Sending,
    Delivered,
    /// Failed permanently.
    Failed,
    /// Retries exhausted; can be re-driven.
    Dead,
    /// Not delivered before the message expired.
    Expired,
    Cancelled,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 9] = [
        DeliveryStatus::Queued,
        DeliveryStatus::Filtered,
        DeliveryStatus::Deferred,
        DeliveryStatus::Sending,
        DeliveryStatus::Delivered,
        DeliveryStatus::Failed,
        DeliveryStatus::Dead,
        DeliveryStatus::Expired,
        DeliveryStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Filtered => "filtered",
            DeliveryStatus::Deferred => "deferred",
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Dead => "dead",
            DeliveryStatus::Expired => "expired",
            DeliveryStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        !matches!(
            self,
            DeliveryStatus::Queued | DeliveryStatus::Deferred | DeliveryStatus::Sending
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_only_three_are_unfinished() {
        for status in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
        }
        let unfinished: Vec<_> = DeliveryStatus::ALL
            .into_iter()
            .filter(|s| !s.is_final())
            .collect();
        assert_eq!(
            unfinished,
            [
                DeliveryStatus::Queued,
                DeliveryStatus::Deferred,
                DeliveryStatus::Sending
            ]
        );
    }
}
