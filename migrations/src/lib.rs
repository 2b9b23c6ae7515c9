//! Herald's schema, forward-only, for Postgres and SQLite alike.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_foundation;
mod m20261122_000002_domain;
mod m20261122_000003_channels;
mod m20261122_000004_deliveries;
mod m20261122_000005_delivery_queue;
mod m20261122_000006_inbox;
mod m20261122_000007_report_statistics;
mod m20261204_000001_review_snapshot;
mod m20261204_000002_session_idle;
mod m20261204_000003_subscriber_token_revocation;
mod m20261204_000004_delivery_pages;
mod m20261204_000005_delivery_log_without_row_checks;
mod m20261204_000006_delivery_endpoints;
mod m20261204_000007_pacing_lanes;
mod m20261204_000008_chosen_instances;
mod m20261204_000009_delivery_log_outlives_subscribers;
mod m20261204_000010_delivery_totals;
mod m20261204_000011_halts;
mod m20261204_000012_recall;
mod m20261204_000013_campaign_recall;
mod m20261204_000014_event_endpoints;
mod m20261205_000015_rule_revision;
mod m20261205_000016_shared_inbox_items;
mod m20261206_000017_ledger_bitmaps;
mod m20261206_000018_expiring_messages;
mod m20261207_000019_lazy_unread_fold;
mod m20261207_000020_shares_as_delivery_log;
mod schema_util;

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_foundation::Migration),
            Box::new(m20261122_000002_domain::Migration),
            Box::new(m20261122_000003_channels::Migration),
            Box::new(m20261122_000004_deliveries::Migration),
            Box::new(m20261122_000005_delivery_queue::Migration),
            Box::new(m20261122_000006_inbox::Migration),
            Box::new(m20261122_000007_report_statistics::Migration),
            Box::new(m20261204_000001_review_snapshot::Migration),
            Box::new(m20261204_000002_session_idle::Migration),
            Box::new(m20261204_000003_subscriber_token_revocation::Migration),
            Box::new(m20261204_000004_delivery_pages::Migration),
            Box::new(m20261204_000005_delivery_log_without_row_checks::Migration),
            Box::new(m20261204_000006_delivery_endpoints::Migration),
            Box::new(m20261204_000007_pacing_lanes::Migration),
            Box::new(m20261204_000008_chosen_instances::Migration),
            Box::new(m20261204_000009_delivery_log_outlives_subscribers::Migration),
            Box::new(m20261204_000010_delivery_totals::Migration),
            Box::new(m20261204_000011_halts::Migration),
            Box::new(m20261204_000012_recall::Migration),
            Box::new(m20261204_000013_campaign_recall::Migration),
            Box::new(m20261204_000014_event_endpoints::Migration),
            Box::new(m20261205_000015_rule_revision::Migration),
            Box::new(m20261205_000016_shared_inbox_items::Migration),
            Box::new(m20261206_000017_ledger_bitmaps::Migration),
            Box::new(m20261206_000018_expiring_messages::Migration),
            Box::new(m20261207_000019_lazy_unread_fold::Migration),
            Box::new(m20261207_000020_shares_as_delivery_log::Migration),
        ]
    }
}
