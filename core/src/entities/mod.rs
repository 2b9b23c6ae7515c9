//! sea-orm entities, one file per table.

pub mod api_key;
pub mod audit_log;
pub mod operator;
pub mod session;
pub mod subscriber;
pub mod subscriber_endpoint;
pub mod subscriber_preference;
