//! Delivery events to products. A product registers endpoints for the events it wants
//! (delivered, failed, dead-lettered, read and dismissed in the inbox, unsubscribed,
//! recalled), filtered by event type and channel. What happened is written to an
//! outbox in the transaction that records it, for the endpoints that want it then;
//! workers gather the outbox into batches, sign each per Standard Webhooks through the
//! webhook plugin and retry them on the delivery schedule, with dead letters and
//! re-drive.

pub mod batches;
pub mod catalog;
pub mod endpoints;
pub mod outbox;

pub use catalog::EventType;
pub use outbox::Occurred;
