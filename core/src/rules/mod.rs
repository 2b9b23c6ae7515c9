//! Delivery rules: frequency caps, quiet hours, keyword filters and dedup windows, each
//! with a scope (global, one channel, one category), an enabled flag and categories
//! that are exempt.

pub mod backtest;
pub mod engine;
pub mod keywords;
pub mod lists;
pub mod params;
pub mod quiet_hours;
pub mod revision;
pub mod store;

pub use params::RuleParams;
pub use store::{KeywordHit, KeywordRules, RuleIn, check_keywords};
