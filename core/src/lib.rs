//! Herald's domain: configuration, database access, entities and the plain functions
//! over a connection that the API and the worker compose. No HTTP, no job queue.
#![forbid(unsafe_code)]

pub mod access;
pub mod api_keys;
pub mod audiences;
pub mod audit;
pub mod blocks;
pub mod bulk;
pub mod campaigns;
pub mod channel;
pub mod channel_instances;
pub mod config;
pub mod config_reference;
pub mod db;
pub mod db_metrics;
pub mod deliveries;
pub mod entities;
pub mod error;
pub mod error_code;
pub mod events;
pub mod halts;
pub mod inbox;
pub mod listing;
pub mod messages;
pub mod openmetrics;
pub mod operators;
pub mod pacing;
pub mod password;
pub mod reports;
pub mod retention;
pub mod rules;
pub mod sealing;
pub mod secrets;
pub mod sessions;
pub mod subscribers;
pub mod telemetry;
pub mod templates;
pub mod unsubscribe;

pub use error::{Error, Result};
pub use error_code::ErrorCode;
