//! Deliveries: one per message, subscriber and channel. Planning turns a batch of
//! recipients into deliveries with the rules engine's decisions, reserving frequency-cap
//! slots under a lock so concurrent workers cannot overshoot a cap.

pub mod plan;
pub mod status;

pub use plan::{PlanSummary, plan_batch};
pub use status::DeliveryStatus;
