//! A bounded pool of SMTP connections.
//!
//! lettre's own pool caps only the *idle* connections and takes a used one back in
//! a spawned task, so a busy sender finds the pool empty and keeps opening new
//! connections (a batch of 20 at concurrency 2 opened 4). Here a permit is held
//! per connection in use, so at most `max_size` are ever open, and a connection is
//! back in the pool before its send returns.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::response::Response;
use tokio::sync::Semaphore;

use super::connect::{Connector, SmtpFailure};

/// A connection idle this long is checked with NOOP before reuse: relays close
/// idle sessions, and a NOOP on every send would halve throughput.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(2);

struct IdleConnection {
    connection: AsyncSmtpConnection,
    since: Instant,
}

pub(super) struct SmtpPool {
    connector: Connector,
    idle: Mutex<Vec<IdleConnection>>,
    in_use: Semaphore,
    idle_timeout: Duration,
}

impl SmtpPool {
    pub(super) fn new(connector: Connector, max_size: usize, idle_timeout: Duration) -> Self {
        Self {
            connector,
            idle: Mutex::new(Vec::new()),
            in_use: Semaphore::new(max_size.max(1)),
            idle_timeout,
        }
    }

    /// Sends one message on a pooled connection, opening one if none is idle.
    /// A connection that failed mid-transaction is dropped, never reused.
    pub(super) async fn send(
        &self,
        envelope: &Envelope,
        email: &[u8],
    ) -> Result<Response, SmtpFailure> {
        // The semaphore is never closed, so acquiring only waits.
        let _permit = self.in_use.acquire().await;
        let mut connection = match self.take_idle().await {
            Some(connection) => connection,
            None => self.connector.connect().await?,
        };
        let result = connection.send(envelope, email).await;
        if !connection.has_broken() && result.is_ok() {
            self.idle().push(IdleConnection {
                connection,
                since: Instant::now(),
            });
        }
        Ok(result?)
    }

    async fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        loop {
            let IdleConnection {
                mut connection,
                since,
            } = self.idle().pop()?;
            let idle_for = since.elapsed();
            if idle_for >= self.idle_timeout {
                connection.abort().await;
                continue;
            }
            if idle_for < CHECK_AFTER_IDLE || connection.test_connected().await {
                return Some(connection);
            }
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<IdleConnection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
