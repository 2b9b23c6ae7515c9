//! Subscribers: the product's users, their profile, endpoints and preferences.

pub mod endpoints;
pub mod export;
pub mod import;
pub mod input;
pub mod preferences;
pub mod query;
pub mod store;

pub use input::{SubscriberIn, parse_external_id};
