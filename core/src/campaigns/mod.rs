//! Campaigns: a template version sent to an audience over channels on a schedule,
//! through review (the reviewer is never the author) before anything is sent.

pub mod dispatch;
pub mod lifecycle;
pub mod progress;
pub mod simulate;
pub mod store;

pub use lifecycle::{Action, Status};
pub use store::{CampaignIn, Schedule};
