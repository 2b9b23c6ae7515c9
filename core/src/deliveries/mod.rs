//! Deliveries: one per message, subscriber and channel. Planning turns a batch of
//! recipients into deliveries with the rules engine's decisions, reserving frequency-cap
//! slots under a lock so concurrent workers cannot overshoot a cap. The queue hands due
//! deliveries to workers under a lease and records what each attempt did.

pub mod backlog;
pub(crate) mod counts;
pub mod dead;
pub mod devices;
mod displace;
mod doorbell;
pub mod erasure;
pub mod ledger;
pub mod log;
pub mod page;
pub mod plan;
pub mod polls;
pub mod queue;
pub mod reconsider;
pub(crate) mod shared;
pub mod shared_entries;
pub mod status;
mod stop;

pub use doorbell::Doorbell;
pub use plan::{NewMessage, PlanSummary, Plans, plan_batch, plan_in, plan_messages};
pub use queue::{
    Attempt, Recorded, RetryPolicy, claim_due, claim_settings, postgres_claim_sql, record,
};
pub use reconsider::{any_deferred_due, expire_due, reconsider_due};
pub use status::DeliveryStatus;
pub use stop::Stop;
