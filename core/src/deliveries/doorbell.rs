//! Wakes senders the moment deliveries are queued, so a message sent through the API
//! goes out now rather than at a worker's next poll. In one `herald serve` process the
//! ring is a `Notify`; on Postgres it also travels to every other Herald process as a
//! `herald_work` notification, so separate `herald api` and `herald worker` processes
//! wake each other too. A ring lost on the way costs one poll interval, never work.

use std::sync::{Arc, OnceLock};

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use tokio::sync::futures::Notified;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};

const CHANNEL: &str = "herald_work";

#[derive(Clone, Default)]
pub struct Doorbell {
    here: Arc<Notify>,
    /// Rings for other processes, when relayed (a full queue means one is pending).
    elsewhere: Arc<OnceLock<mpsc::Sender<()>>>,
}

impl Doorbell {
    /// Wakes a sender waiting for work, here and in each other process. One is enough
    /// for a small piece of work; a sender that finds a full batch brings in another
    /// ([`Doorbell::pass_on`]), so a large one still goes out on every sender.
    pub fn ring(&self) {
        self.here.notify_one();
        if let Some(elsewhere) = self.elsewhere.get() {
            let _ = elsewhere.try_send(());
        }
    }

    /// Wakes another sender in this process: the caller found more work than one batch.
    pub fn pass_on(&self) {
        self.here.notify_one();
    }

    /// Completes at the next ring. Call `enable` on it before looking for work, so a
    /// ring between the look and the wait is not missed.
    pub fn rung(&self) -> Notified<'_> {
        self.here.notified()
    }

    /// From now until `stop`, rings here also reach other processes through the
    /// Postgres database `db` (processes that queue work: API nodes).
    pub fn ring_through(&self, db: &DatabaseConnection, stop: CancellationToken) {
        let (queue, queued) = mpsc::channel(1);
        if self.elsewhere.set(queue).is_ok() {
            tokio::spawn(send(db.clone(), queued, stop));
        }
    }

    /// From now until `stop`, rings from other processes wake this one's senders
    /// (processes that send: workers).
    pub async fn hear_through(
        &self,
        db: &DatabaseConnection,
        stop: CancellationToken,
    ) -> Result<()> {
        let pool = db.get_postgres_connection_pool().clone();
        let custom = |e: sea_orm::sqlx::Error| Error::from(sea_orm::DbErr::Custom(e.to_string()));
        let mut listener = PgListener::connect_with(&pool).await.map_err(custom)?;
        listener.listen(CHANNEL).await.map_err(custom)?;
        tokio::spawn(listen(listener, Arc::clone(&self.here), stop));
        Ok(())
    }
}

/// One notification per ring, coalescing rings that come while one is being sent.
async fn send(db: DatabaseConnection, mut queued: mpsc::Receiver<()>, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            ring = queued.recv() => if ring.is_none() { return },
        }
        let notify = Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT pg_notify($1, '')",
            [CHANNEL.into()],
        );
        if let Err(error) = db.execute_raw(notify).await {
            tracing::warn!(%error, "could not ring other processes");
        }
    }
}

/// Wakes this process's senders for rings from anywhere (its own included: harmless).
async fn listen(mut listener: PgListener, here: Arc<Notify>, stop: CancellationToken) {
    loop {
        let received = tokio::select! {
            () = stop.cancelled() => return,
            received = listener.try_recv() => received,
        };
        match received {
            Ok(_) => here.notify_one(),
            Err(error) => {
                tracing::warn!(%error, "work relay lost Postgres; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}
