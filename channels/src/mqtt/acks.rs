//! Matching PUBACKs to the sends waiting for them, and the event loop that keeps
//! the connection alive.
//!
//! rumqttc assigns packet ids inside its event loop, in the order requests were
//! queued, and reports each as `Outgoing::Publish(pkid)`. So a send queues its
//! waiter and its request under one lock (same order in both queues), and the
//! event loop pairs each reported id with the oldest unassigned waiter.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, Outgoing, Packet, QoS};
use tokio::sync::oneshot;

/// `Ok` once the broker acknowledged; `Err(reason)` if the publish was lost.
pub(super) type AckResult = Result<(), String>;

#[derive(Default)]
struct Waiters {
    /// Queued publishes that have no packet id yet, oldest first.
    unassigned: VecDeque<oneshot::Sender<AckResult>>,
    by_packet_id: HashMap<u16, oneshot::Sender<AckResult>>,
}

#[derive(Default)]
pub(super) struct AckTracker {
    waiters: Mutex<Waiters>,
    /// Held while queueing a publish, and by the event loop while it discards
    /// queued publishes after a connection loss, so the two queues never drift.
    queue_order: tokio::sync::Mutex<()>,
}

impl AckTracker {
    fn waiters(&self) -> MutexGuard<'_, Waiters> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a QoS 1 publish and returns where its acknowledgement will arrive.
    /// Never waits for queue space: a full queue is reported, not waited out.
    pub(super) async fn publish(
        &self,
        client: &AsyncClient,
        topic: &str,
        payload: Vec<u8>,
        retain: bool,
    ) -> Result<oneshot::Receiver<AckResult>, String> {
        let _order = self.queue_order.lock().await;
        let (sender, receiver) = oneshot::channel();
        self.waiters().unassigned.push_back(sender);
        if let Err(error) = client.try_publish(topic, QoS::AtLeastOnce, retain, payload) {
            // Still holding the order lock: the waiter just pushed is the last one.
            self.waiters().unassigned.pop_back();
            return Err(format!("cannot queue the MQTT publish: {error}"));
        }
        Ok(receiver)
    }

    fn on_outgoing_publish(&self, packet_id: u16) {
        let mut waiters = self.waiters();
        // An id already waiting is a retransmission of the same publish.
        if waiters.by_packet_id.contains_key(&packet_id) {
            return;
        }
        if let Some(waiter) = waiters.unassigned.pop_front() {
            waiters.by_packet_id.insert(packet_id, waiter);
        }
    }

    fn on_puback(&self, packet_id: u16) {
        if let Some(waiter) = self.waiters().by_packet_id.remove(&packet_id) {
            // The sender may have given up waiting; nothing to tell it then.
            let _ = waiter.send(Ok(()));
        }
    }

    fn fail_all(&self, reason: &str) {
        let mut waiters = self.waiters();
        let assigned = std::mem::take(&mut waiters.by_packet_id).into_values();
        for waiter in waiters.unassigned.drain(..).chain(assigned) {
            let _ = waiter.send(Err(reason.to_owned()));
        }
    }
}

const FIRST_RECONNECT_DELAY: Duration = Duration::from_millis(250);
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(10);

/// Polls the event loop for as long as the channel lives; polling again after an
/// error is what reconnects. The session is clean, so whatever was in flight when
/// the connection dropped is failed (retryable) rather than resent.
pub(super) async fn drive(mut event_loop: EventLoop, tracker: std::sync::Arc<AckTracker>) {
    let mut reconnect_delay = FIRST_RECONNECT_DELAY;
    loop {
        match event_loop.poll().await {
            Ok(Event::Outgoing(Outgoing::Publish(packet_id))) if packet_id != 0 => {
                tracker.on_outgoing_publish(packet_id);
            }
            Ok(Event::Incoming(Packet::PubAck(ack))) => tracker.on_puback(ack.pkid),
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                tracing::info!(channel = "mqtt", "connected to the MQTT broker");
                reconnect_delay = FIRST_RECONNECT_DELAY;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(channel = "mqtt", %error, "MQTT connection lost; reconnecting");
                {
                    let _order = tracker.queue_order.lock().await;
                    // Publishes queued since the failure would otherwise go out
                    // after the reconnect with their waiters already failed.
                    event_loop.clean();
                    tracker.fail_all(&format!("MQTT connection lost: {error}"));
                }
                // Backoff for the connection task, not for a send: sends have failed.
                tokio::time::sleep(reconnect_delay).await;
                reconnect_delay = (reconnect_delay * 2).min(MAX_RECONNECT_DELAY);
            }
        }
    }
}
