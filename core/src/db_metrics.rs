//! The database pool's state for `/metrics`, read at each scrape: connections in use
//! and idle, and the pool's ceiling. A pool always in use at its ceiling means
//! requests wait for a connection (`database.max_connections`).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use sea_orm::{DatabaseConnection, DbBackend};

/// Registered into a process's registry with `register_collector`.
#[derive(Debug)]
pub struct PoolGauges(pub DatabaseConnection);

impl Collector for PoolGauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (size, idle, max) = match self.0.get_database_backend() {
            DbBackend::Postgres => {
                let pool = self.0.get_postgres_connection_pool();
                (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                )
            }
            DbBackend::Sqlite => {
                let pool = self.0.get_sqlite_connection_pool();
                (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                )
            }
            _ => return Ok(()),
        };
        let idle = u32::try_from(idle).unwrap_or(u32::MAX);
        let states = [("in_use", size.saturating_sub(idle)), ("idle", idle)];
        let mut family = encoder.encode_descriptor(
            "db_pool_connections",
            "Database pool connections by state, at this scrape",
            None,
            ConstGauge::new(0_i64).metric_type(),
        )?;
        for (state, count) in states {
            let gauge = ConstGauge::new(i64::from(count));
            gauge.encode(family.encode_family(&[("state", state)])?)?;
        }
        let ceiling = ConstGauge::new(i64::from(max));
        let metric = encoder.encode_descriptor(
            "db_pool_max_connections",
            "The database pool's ceiling (database.max_connections)",
            None,
            ceiling.metric_type(),
        )?;
        ceiling.encode(metric)
    }
}
