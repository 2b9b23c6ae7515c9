//! A worker loop run inside the test process, beside the API under test.

use std::time::Duration;

use herald_core::config::Config;
use herald_core::deliveries::Doorbell;
use herald_core::inbox::Bus;
use herald_worker::{WorkerError, WorkerMetrics};
use sea_orm::DatabaseConnection;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestWorker {
    quit: oneshot::Sender<()>,
    running: JoinHandle<Result<(), WorkerError>>,
}

impl TestWorker {
    pub fn start(db: &DatabaseConnection, config: Config) -> Self {
        Self::start_with(db, config, Doorbell::default(), WorkerMetrics::default())
    }

    /// Rung by `doorbell`, counting in `metrics`.
    pub fn start_with(
        db: &DatabaseConnection,
        config: Config,
        doorbell: Doorbell,
        metrics: WorkerMetrics,
    ) -> Self {
        let (quit, quitting) = oneshot::channel::<()>();
        let running = tokio::spawn(herald_worker::loops::run_loop(
            db.clone(),
            config,
            Bus::default(),
            doorbell,
            metrics,
            async move {
                let _ = quitting.await;
            },
        ));
        Self { quit, running }
    }

    /// Shuts it down as SIGTERM would; it finishes what it holds within 10 s.
    pub async fn stop(self) {
        let _ = self.quit.send(());
        tokio::time::timeout(Duration::from_secs(10), self.running)
            .await
            .expect("the worker stops within 10 s")
            .expect("the worker task ends")
            .expect("the worker ends without an error");
    }
}
