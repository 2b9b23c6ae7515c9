//! Wakes this process's senders the moment deliveries are queued, so a message sent
//! through the API of a `herald serve` process goes out now rather than at the
//! worker's next poll. Separate worker processes still find work by polling.

use std::sync::Arc;

use tokio::sync::Notify;
use tokio::sync::futures::Notified;

#[derive(Clone, Default)]
pub struct Doorbell(Arc<Notify>);

impl Doorbell {
    /// Wakes every sender waiting for work.
    pub fn ring(&self) {
        self.0.notify_waiters();
    }

    /// Completes at the next ring. Call `enable` on it before looking for work, so a
    /// ring between the look and the wait is not missed.
    pub fn rung(&self) -> Notified<'_> {
        self.0.notified()
    }
}
