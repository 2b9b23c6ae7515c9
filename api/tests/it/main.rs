//! Integration tests of the HTTP API against a real database (SQLite by default,
//! Postgres with HERALD_TEST_BACKEND=postgres) and a real server on port 0.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod access_matrix;
mod admin_ui;
mod api_keys;
mod audiences;
mod audit;
mod auth;
mod backtest;
mod budget;
mod campaign_run;
mod campaigns;
mod channel_paths;
mod channels;
mod deliveries;
mod delivery_queue;
mod delivery_send;
mod events;
mod halts;
mod helpers;
mod housekeeping;
mod import;
mod inbox;
mod inbox_flow;
mod inbox_stream;
mod list_entries;
mod lists;
mod messages;
mod openapi;
mod operations;
mod operators;
mod pacing;
mod polls;
mod recall;
mod reports;
mod review;
mod rules;
mod rules_engine;
mod shared_inbox;
mod shared_log;
mod sqlite_settings;
mod stream_connections;
mod subscribers;
// The channels crate's test peers (SMTP server, push providers, webhook receiver),
// shared by path; these tests use part of them.
#[allow(dead_code)]
#[path = "../../../channels/tests/it/support/mod.rs"]
mod support;
mod templates;
mod unsubscribe;
mod upgrades;
