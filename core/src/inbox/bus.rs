//! Wakes a subscriber's open connections when their inbox changes.
//!
//! The bus carries signals, not the record: a woken connection reads what is new from
//! the database after the last id it sent, so a lagging or dropped signal costs a
//! query, never an item. Items of one subscriber get their ids in commit order (see
//! `store_batch`), so reading "after the last id sent" leaves no gap.
//!
//! In one process (`herald serve`) the bus is this in-memory map.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast;

use super::store::{Stored, Unread};

/// What changed in a subscriber's inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// New items were stored.
    Items,
    /// Items were read or archived (no ids: all were read); the unread pair after it.
    Read { ids: Vec<i64>, unread: Unread },
}

/// Signals buffered per subscriber before a slow connection lags (it then re-reads).
const BUFFER: usize = 16;

#[derive(Clone, Default)]
pub struct Bus {
    channels: Arc<Mutex<HashMap<i64, broadcast::Sender<Signal>>>>,
}

impl Bus {
    /// Signals for one subscriber, from now on.
    pub fn subscribe(&self, subscriber_id: i64) -> broadcast::Receiver<Signal> {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        channels
            .entry(subscriber_id)
            .or_insert_with(|| broadcast::channel(BUFFER).0)
            .subscribe()
    }

    pub fn publish(&self, subscriber_id: i64, signal: Signal) {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        // An error means nobody listens any more.
        if let Some(sender) = channels.get(&subscriber_id)
            && sender.send(signal).is_err()
        {
            channels.remove(&subscriber_id);
        }
    }

    /// One `Items` signal per subscriber that got new items.
    pub fn stored(&self, stored: &[Stored]) {
        let mut subscribers: Vec<i64> = stored.iter().map(|s| s.subscriber_id).collect();
        subscribers.sort_unstable();
        subscribers.dedup();
        for subscriber in subscribers {
            self.publish(subscriber, Signal::Items);
        }
    }
}
