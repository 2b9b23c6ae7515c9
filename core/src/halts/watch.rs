//! A worker's copy of the stops in force, kept current: woken through the bus when an
//! operator stops or releases (Postgres LISTEN/NOTIFY), and reloaded every
//! [`RELOAD_EVERY`] in any case, so a lost notification, or SQLite with no bus between
//! processes, still stops sends within a second.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use sea_orm::DatabaseConnection;
use sea_orm::sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use super::Halts;
use crate::db::is_postgres;
use crate::error::Result;

/// How often the stops are read again without being told.
pub const RELOAD_EVERY: Duration = Duration::from_millis(500);

#[derive(Clone, Default)]
pub struct HaltWatch {
    current: Arc<RwLock<Arc<Halts>>>,
}

impl HaltWatch {
    /// The stops as last loaded.
    pub fn current(&self) -> Arc<Halts> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Reads the stops again; returns whether one that was in force is gone (what it
    /// held may go now).
    pub async fn reload(&self, db: &DatabaseConnection) -> Result<bool> {
        let loaded = Halts::load(db).await?;
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let released = current.ids().iter().any(|id| !loaded.ids().contains(id));
        if **current != loaded {
            *current = Arc::new(loaded);
        }
        Ok(released)
    }

    /// Keeps the stops current until `stop`, calling `released` when one is released.
    pub fn follow(
        &self,
        db: DatabaseConnection,
        stop: CancellationToken,
        released: impl Fn() + Send + 'static,
    ) {
        let watch = self.clone();
        tokio::spawn(async move {
            let mut listener = if is_postgres(&db) {
                listen(&db).await
            } else {
                None
            };
            loop {
                let told = async {
                    match listener.as_mut() {
                        Some(listener) => listener.try_recv().await.is_ok(),
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = stop.cancelled() => return,
                    ok = told => if !ok {
                        tracing::warn!("the kill switch's notifications were lost; reloading on a timer until they are back");
                        listener = None;
                    },
                    () = tokio::time::sleep(RELOAD_EVERY) => {
                        if listener.is_none() && is_postgres(&db) {
                            listener = listen(&db).await;
                        }
                    }
                }
                match watch.reload(&db).await {
                    Ok(true) => released(),
                    Ok(false) => {}
                    Err(error) => tracing::warn!(%error, "reading the kill switch failed"),
                }
            }
        });
    }
}

/// A listener for stops and releases announced on Postgres, if one can be had.
async fn listen(db: &DatabaseConnection) -> Option<PgListener> {
    let pool = db.get_postgres_connection_pool().clone();
    let mut listener = PgListener::connect_with(&pool).await.ok()?;
    listener.listen(super::CHANNEL).await.ok()?;
    Some(listener)
}
