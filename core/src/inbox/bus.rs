//! Wakes a subscriber's open connections when their inbox changes.
//!
//! Every signal carries the subscriber's unread pair after the change. Its version
//! moves by one per change, so a connection that knows the version it is at can tell
//! whether a signal is the very next change. A signal for new items carries the items
//! too: a connection at the previous version sends them straight on, so a broadcast to
//! 10,000 connections costs no query per connection. Anything else (a version skipped,
//! a relayed signal too big to carry its items) makes the connection read what is new
//! from the database after the last id it sent: the database stays the record, and a
//! lost signal costs a query, never an item.
//!
//! In one process the bus is this in-memory map. A relay ([`super::relay`]) also
//! carries every signal to the other processes (Postgres LISTEN/NOTIFY or NATS), so an
//! item stored by any worker reaches streams on any API node from memory.

use foldhash::{HashMap, HashMapExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

use super::Announced;
use super::store::{Stored, Unread};

/// What changed in a subscriber's inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Signal {
    /// New items were stored; `items` are they, in id order, unless the signal crossed
    /// processes in a notice too small to carry them.
    Items {
        unread: Unread,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        items: Option<Arc<[Announced]>>,
    },
    /// Items were read or archived (no ids: all were read).
    Read { ids: Vec<i64>, unread: Unread },
    /// Items were recalled: they leave the inbox.
    Recalled { ids: Vec<i64>, unread: Unread },
    /// Something may have been missed: look in the database.
    Recheck,
    /// The subscriber's tokens were revoked: their open connections end.
    Revoked,
}

/// Signals buffered per subscriber before a slow connection lags (it then re-reads).
const BUFFER: usize = 16;

/// Where signals for other processes go: (subscriber id, signal).
pub(super) type Outbox = mpsc::UnboundedSender<(i64, Signal)>;

#[derive(Clone, Default)]
pub struct Bus {
    channels: Arc<Mutex<HashMap<i64, broadcast::Sender<Signal>>>>,
    /// Signals for other processes, when a relay runs.
    outbox: Arc<Mutex<Option<Outbox>>>,
    /// How many subscribers the map held after it was last pruned.
    pruned_at: Arc<AtomicUsize>,
    /// How long notices from other processes took to arrive.
    relay_lag: super::relay::RelayLag,
}

impl Bus {
    /// How long signals relayed from other processes took to arrive, for `/metrics`.
    pub fn relay_lag(&self) -> &super::relay::RelayLag {
        &self.relay_lag
    }

    /// How many connections of this subscriber listen here.
    pub fn listeners(&self, subscriber_id: i64) -> usize {
        let channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        channels
            .get(&subscriber_id)
            .map_or(0, broadcast::Sender::receiver_count)
    }

    /// Signals for one subscriber, from now on.
    pub fn subscribe(&self, subscriber_id: i64) -> broadcast::Receiver<Signal> {
        self.subscribe_within(subscriber_id, usize::MAX)
            .unwrap_or_else(|| unreachable!("no subscriber has usize::MAX connections"))
    }

    /// Like [`Self::subscribe`], unless the subscriber already has `limit` connections
    /// listening here: counted and added under one lock, so concurrent requests cannot
    /// both take the last place.
    pub fn subscribe_within(
        &self,
        subscriber_id: i64,
        limit: usize,
    ) -> Option<broadcast::Receiver<Signal>> {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        if channels
            .get(&subscriber_id)
            .is_some_and(|sender| sender.receiver_count() >= limit)
        {
            return None;
        }
        // Forget subscribers whose connections all closed, whenever the map has doubled
        // since it was last pruned: amortised O(1) per connection.
        if channels.len() >= 2 * self.pruned_at.load(Ordering::Relaxed).max(64) {
            channels.retain(|_, sender| sender.receiver_count() > 0);
            self.pruned_at.store(channels.len(), Ordering::Relaxed);
        }
        Some(
            channels
                .entry(subscriber_id)
                .or_insert_with(|| broadcast::channel(BUFFER).0)
                .subscribe(),
        )
    }

    /// Wakes the subscriber's connections here and, through the relay, elsewhere.
    pub fn publish(&self, subscriber_id: i64, signal: Signal) {
        self.publish_all([(subscriber_id, signal)]);
    }

    /// [`Self::publish`] for many subscribers, taking the locks once per
    /// [`LOCKED_SENDS`] signals rather than once per subscriber.
    fn publish_all(&self, signals: impl IntoIterator<Item = (i64, Signal)>) {
        let outbox = self
            .outbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut signals = signals.into_iter().peekable();
        while signals.peek().is_some() {
            let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
            for (subscriber_id, signal) in signals.by_ref().take(LOCKED_SENDS) {
                if let Some(outbox) = &outbox {
                    let _ = outbox.send((subscriber_id, signal.clone()));
                }
                send_here(&mut channels, subscriber_id, signal);
            }
        }
    }

    /// Wakes the subscriber's connections in this process only.
    pub(super) fn publish_here(&self, subscriber_id: i64, signal: Signal) {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        send_here(&mut channels, subscriber_id, signal);
    }

    /// Wakes every connection here, to look for anything it may have missed (after the
    /// relay lost its connection for a while).
    pub(super) fn wake_all(&self) {
        let channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        for sender in channels.values() {
            let _ = sender.send(Signal::Recheck);
        }
    }

    /// Sends what is published here to other processes too.
    pub(super) fn relay_to(&self, outbox: Outbox) {
        *self.outbox.lock().unwrap_or_else(PoisonError::into_inner) = Some(outbox);
    }

    /// One `Items` signal per subscriber that got new items (`stored` is in id order,
    /// as `store_batch` returns it). The items are shared, not copied: a shared item
    /// reaches all its recipients' connections as one allocation, and so does the
    /// one-item list a broadcast's recipients are sent.
    pub fn stored(&self, stored: &[Stored]) {
        // By subscriber, each subscriber's items staying in id order.
        let mut order: Vec<&Stored> = stored.iter().collect();
        order.sort_by_key(|one| one.subscriber_id);
        let mut alone: HashMap<i64, Arc<[Announced]>> = HashMap::new();
        let signals = order
            .chunk_by(|a, b| a.subscriber_id == b.subscriber_id)
            .map(|group| {
                // Personal and shared items stored together move the pair twice:
                // announce the later pair (a stream then sees a skipped version and
                // reads).
                let unread = group
                    .iter()
                    .map(|one| one.unread)
                    .max_by_key(|unread| unread.version)
                    .unwrap_or_default();
                let items = match group {
                    [one] => Arc::clone(
                        alone
                            .entry(one.item.id)
                            .or_insert_with(|| Arc::from([one.item.clone()])),
                    ),
                    many => many.iter().map(|one| one.item.clone()).collect(),
                };
                let signal = Signal::Items {
                    unread,
                    items: Some(items),
                };
                (group[0].subscriber_id, signal)
            });
        self.publish_all(signals);
    }
}

/// Signals sent under one hold of the subscribers' map: a broadcast's thousands do not
/// keep new connections waiting for the lock.
const LOCKED_SENDS: usize = 256;

/// Wakes the subscriber's connections in this process; forgets a subscriber nobody
/// listens for any more.
fn send_here(
    channels: &mut HashMap<i64, broadcast::Sender<Signal>>,
    subscriber_id: i64,
    signal: Signal,
) {
    if let Some(sender) = channels.get(&subscriber_id)
        && sender.send(signal).is_err()
    {
        channels.remove(&subscriber_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribers_whose_connections_closed_are_forgotten() {
        let bus = Bus::default();
        let kept = bus.subscribe(0);
        for id in 1..=200 {
            drop(bus.subscribe(id));
        }
        let held = bus.channels.lock().unwrap().len();
        assert!(held < 200, "closed subscribers pruned: {held} held");
        assert_eq!(bus.listeners(0), 1, "an open connection stays");
        drop(kept);
    }

    #[test]
    fn a_signal_reaches_only_its_subscriber() {
        let bus = Bus::default();
        let mut ana = bus.subscribe(1);
        let mut ben = bus.subscribe(2);
        bus.publish(1, Signal::Recheck);
        assert_eq!(ana.try_recv().unwrap(), Signal::Recheck);
        assert!(ben.try_recv().is_err());
    }
}
