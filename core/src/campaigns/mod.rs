//! Campaigns: a template version sent to an audience over channels on a schedule,
//! through review before anything is sent. The reviewer never edited or submitted the
//! campaign, and the approval covers exactly what was reviewed (`review`, `snapshot`).

pub mod dispatch;
pub mod lifecycle;
pub mod pages;
pub mod progress;
mod review;
pub mod simulate;
pub mod snapshot;
pub mod store;
pub mod users;

pub use lifecycle::{Action, Status};
pub use store::{CampaignIn, Schedule};
