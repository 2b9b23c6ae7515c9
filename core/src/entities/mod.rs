//! sea-orm entities, one file per table.

pub mod api_key;
pub mod audience;
pub mod audience_member;
pub mod audit_log;
pub mod campaign;
pub mod campaign_audience;
pub mod campaign_contributor;
pub mod campaign_review;
pub mod channel_instance;
pub mod delivery;
pub mod delivery_attempt;
pub mod inbox_item;
pub mod inbox_state;
pub mod list_entry;
pub mod message;
pub mod message_request;
pub mod operator;
pub mod rule;
pub mod send_ledger;
pub mod session;
pub mod signing_key;
pub mod subscriber;
pub mod subscriber_endpoint;
pub mod subscriber_preference;
pub mod template;
pub mod template_version;
