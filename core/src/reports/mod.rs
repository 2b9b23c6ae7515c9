//! Delivery reports for auditors: outcomes counted by campaign, channel, day and status,
//! the checks and rules that filtered deliveries, and a funnel per campaign — each one
//! set-based `GROUP BY` over the delivery log — and CSV exports of them and of the log
//! itself, produced page by page so that a million-row log is never held in memory.
//! Deliveries the retention period pruned are counted from their totals
//! (`delivery_totals`) beside the log, so every report still counts them.
//!
//! A delivery belongs to the UTC day it was created: when its message was planned for
//! the recipient and the rules decided about it. That day never changes, so the totals
//! of a closed period stay what they were when an auditor first exported them; only the
//! status within the period moves on (queued → delivered). Grouping by the last update
//! instead would move a delivery to another day with every retry, expiry or re-drive.

pub mod csv;
mod export;
mod filter;
mod filtered;
mod funnel;
pub(crate) mod group;
mod keys;
mod outcomes;
pub(crate) mod shared;
mod totals;

pub use export::delivery_log_csv;
pub use filter::ReportFilter;
pub use filtered::filtered;
pub use funnel::{FunnelRow, funnel};
pub use keys::{GroupKey, MessageKind};
pub use outcomes::{OutcomeReport, OutcomeRow, outcomes};
