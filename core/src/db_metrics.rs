//! The database pool for `/metrics`: connections in use and idle and the pool's
//! ceiling, read at each scrape, and how long getting a connection takes, probed every
//! few seconds. A pool at its ceiling with waits growing means requests queue for a
//! connection (`database.max_connections`).

use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
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

/// How often a process probes its pool.
const PROBE_EVERY: Duration = Duration::from_secs(5);
/// A probe that waits longer than this counts as timed out.
const PROBE_LIMIT: Duration = Duration::from_secs(5);

/// What the pool made a probe wait. sqlx does not count its callers' waits, so each
/// process asks for a connection itself every few seconds: the wait it sees is the wait
/// a query arriving then would see.
#[derive(Debug, Clone)]
pub struct PoolWaits {
    waits: Histogram,
    timeouts: Counter,
}

impl Default for PoolWaits {
    fn default() -> Self {
        Self {
            waits: Histogram::new([0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0]),
            timeouts: Counter::default(),
        }
    }
}

impl PoolWaits {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "db_pool_acquire_seconds",
            "How long a probe every 5 s waited for a pooled database connection",
            self.waits.clone(),
        );
        registry.register(
            "db_pool_acquire_timeouts",
            "Probes that got no pooled database connection within 5 s",
            self.timeouts.clone(),
        );
    }

    /// Probes `db`'s pool every few seconds for as long as the runtime runs.
    pub fn spawn_probe(&self, db: DatabaseConnection) {
        let waits = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PROBE_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                waits.probe(&db).await;
            }
        });
    }

    /// Takes a connection from `db`'s pool, gives it back, and records the wait.
    pub async fn probe(&self, db: &DatabaseConnection) {
        let started = Instant::now();
        let acquired = tokio::time::timeout(PROBE_LIMIT, async {
            match db.get_database_backend() {
                DbBackend::Postgres => db.get_postgres_connection_pool().acquire().await.is_ok(),
                DbBackend::Sqlite => db.get_sqlite_connection_pool().acquire().await.is_ok(),
                _ => false,
            }
        })
        .await;
        match acquired {
            Ok(true) => self.waits.observe(started.elapsed().as_secs_f64()),
            Ok(false) | Err(_) => {
                self.timeouts.inc();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;
    use sea_orm::{ConnectOptions, Database, TransactionTrait};

    #[tokio::test]
    async fn a_probe_waits_while_the_pool_is_exhausted_and_says_how_long() {
        let mut options = ConnectOptions::new("sqlite::memory:");
        options.max_connections(1).min_connections(1);
        let db = Database::connect(options)
            .await
            .expect("an in-memory database");
        let waits = PoolWaits::default();
        let mut registry = Registry::with_prefix("herald");
        waits.register(&mut registry);

        waits.probe(&db).await; // a free pool: at once
        let held = db.begin().await.expect("the only connection");
        let probing = tokio::spawn({
            let (waits, db) = (waits.clone(), db.clone());
            async move { waits.probe(&db).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        held.commit().await.expect("commit");
        probing.await.expect("the probe ends");

        let mut text = String::new();
        encode(&mut text, &registry).expect("encoded");
        let value = |name: &str| -> f64 {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
                .unwrap_or(-1.0)
        };
        assert_eq!(value("herald_db_pool_acquire_seconds_count"), 2.0, "{text}");
        let total = value("herald_db_pool_acquire_seconds_sum");
        assert!((0.3..5.0).contains(&total), "{text}");
        assert_eq!(
            value("herald_db_pool_acquire_timeouts_total"),
            0.0,
            "{text}"
        );
    }
}
