//! Which deliveries a report counts: a period of UTC days (by the day each delivery was
//! created) and filters that narrow it.

use chrono::{DateTime, Days, NaiveDate, Utc};
use sea_orm::{ColumnTrait, Condition};

use crate::channel::ChannelKind;
use crate::deliveries::DeliveryStatus;
use crate::deliveries::log::of_campaign;
use crate::entities::delivery;
use crate::error::{Error, Result};

/// Every field narrows; none set counts the whole log.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    /// The first UTC day counted.
    pub from: Option<NaiveDate>,
    /// The last UTC day counted (inclusive).
    pub to: Option<NaiveDate>,
    pub campaign_id: Option<i64>,
    pub channel: Option<ChannelKind>,
    pub status: Option<DeliveryStatus>,
}

/// The start of `day`, UTC.
pub(super) fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

impl ReportFilter {
    /// A period that ends before it starts names `from` as the field at fault.
    pub fn validate(&self) -> Result<()> {
        match (self.from, self.to) {
            (Some(from), Some(to)) if from > to => Err(Error::invalid(
                "from",
                format!("{from} is after `to` ({to})"),
            )),
            _ => Ok(()),
        }
    }

    /// The period as a half-open range of instants, so an index on `created_at` could
    /// serve it and no per-row date arithmetic is needed.
    pub(super) fn condition(&self) -> Condition {
        let mut condition = Condition::all();
        if let Some(from) = self.from {
            condition = condition.add(delivery::Column::CreatedAt.gte(midnight(from)));
        }
        if let Some(next) = self.to.and_then(|to| to.checked_add_days(Days::new(1))) {
            condition = condition.add(delivery::Column::CreatedAt.lt(midnight(next)));
        }
        if let Some(campaign) = self.campaign_id {
            condition = condition.add(of_campaign(campaign));
        }
        if let Some(channel) = self.channel {
            condition = condition.add(delivery::Column::Channel.eq(channel.as_str()));
        }
        if let Some(status) = self.status {
            condition = condition.add(delivery::Column::Status.eq(status.as_str()));
        }
        condition
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_ending_before_it_starts_is_refused() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d);
        let filter = |from, to| ReportFilter {
            from,
            to,
            ..Default::default()
        };
        assert!(filter(day(1), day(1)).validate().is_ok());
        assert!(filter(day(1), None).validate().is_ok());
        let Err(Error::Invalid { field, .. }) = filter(day(2), day(1)).validate() else {
            panic!("from after to must be refused");
        };
        assert_eq!(field, "from");
    }
}
