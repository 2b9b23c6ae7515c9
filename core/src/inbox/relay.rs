//! Carries bus signals between processes on Postgres: what one process publishes is
//! sent with NOTIFY (many signals per notification) and every other process LISTENs
//! and wakes its own connections. Signals only wake; items are always read from the
//! database, so a notification lost while the listener reconnects costs nothing once
//! every connection has been woken to look again. Items themselves do not travel (a
//! notification holds under 8,000 bytes): a connection woken from here reads them.

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::bus::{Bus, Signal};
use crate::error::{Error, Result};

const CHANNEL: &str = "herald_inbox";
/// Postgres refuses payloads of 8,000 bytes or more.
const MAX_PAYLOAD: usize = 7_500;

#[derive(Serialize, Deserialize)]
struct Notice {
    /// The process that sent it: it has woken its own connections already.
    from: String,
    signals: Vec<(i64, Signal)>,
}

/// Starts relaying `bus` through the Postgres database `db` until `stop` is cancelled.
pub async fn start(db: &DatabaseConnection, bus: &Bus, stop: CancellationToken) -> Result<()> {
    let pool = db.get_postgres_connection_pool().clone();
    let node = uuid::Uuid::new_v4().to_string();
    let mut listener = PgListener::connect_with(&pool)
        .await
        .map_err(|e| Error::from(sea_orm::DbErr::Custom(e.to_string())))?;
    listener
        .listen(CHANNEL)
        .await
        .map_err(|e| Error::from(sea_orm::DbErr::Custom(e.to_string())))?;
    let (outbox, queued) = mpsc::unbounded_channel();
    bus.relay_to(outbox);
    tokio::spawn(send(db.clone(), node.clone(), queued, stop.clone()));
    tokio::spawn(listen(listener, bus.clone(), node, stop));
    Ok(())
}

/// Sends what was published here, as few notifications as the payload limit allows.
async fn send(
    db: DatabaseConnection,
    node: String,
    mut queued: mpsc::UnboundedReceiver<(i64, Signal)>,
    stop: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            () = stop.cancelled() => return,
            first = queued.recv() => match first { Some(first) => first, None => return },
        };
        let mut signals = vec![first];
        while let Ok(next) = queued.try_recv() {
            signals.push(next);
        }
        for payload in payloads(&node, signals) {
            let notify = Statement::from_sql_and_values(
                db.get_database_backend(),
                "SELECT pg_notify($1, $2)",
                [CHANNEL.into(), payload.into()],
            );
            if let Err(error) = db.execute_raw(notify).await {
                tracing::warn!(%error, "could not relay inbox signals");
            }
        }
    }
}

/// Splits signals into notification payloads under Postgres' size limit.
fn payloads(node: &str, signals: Vec<(i64, Signal)>) -> Vec<String> {
    let encode = |signals: Vec<(i64, Signal)>| {
        serde_json::to_string(&Notice {
            from: node.to_owned(),
            signals,
        })
        .unwrap_or_default()
    };
    // The envelope, then each signal with its separating comma.
    let envelope = encode(Vec::new()).len();
    let mut payloads = Vec::new();
    let mut batch = Vec::new();
    let mut size = envelope;
    for signal in signals {
        let cost = serde_json::to_string(&signal).map_or(0, |s| s.len()) + 1;
        if size + cost > MAX_PAYLOAD && !batch.is_empty() {
            payloads.push(encode(std::mem::take(&mut batch)));
            size = envelope;
        }
        size += cost;
        batch.push(signal);
    }
    if !batch.is_empty() {
        payloads.push(encode(batch));
    }
    payloads
}

/// Wakes connections here for what other processes published.
async fn listen(mut listener: PgListener, bus: Bus, node: String, stop: CancellationToken) {
    loop {
        let received = tokio::select! {
            () = stop.cancelled() => return,
            received = listener.try_recv() => received,
        };
        match received {
            Ok(Some(notification)) => {
                let Ok(notice) = serde_json::from_str::<Notice>(notification.payload()) else {
                    continue;
                };
                if notice.from == node {
                    continue;
                }
                for (subscriber_id, signal) in notice.signals {
                    bus.publish_here(subscriber_id, signal);
                }
            }
            // The connection dropped and was re-established: look again for anything
            // announced meanwhile.
            Ok(None) => bus.wake_all(),
            Err(error) => {
                tracing::warn!(%error, "inbox relay lost Postgres; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                bus.wake_all();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbox::Unread;

    #[test]
    fn many_signals_are_split_under_the_payload_limit() {
        let signals: Vec<(i64, Signal)> = (0..5_000)
            .map(|id| {
                let unread = Unread {
                    count: id,
                    version: id,
                };
                (
                    id,
                    Signal::Items {
                        unread,
                        items: None,
                    },
                )
            })
            .collect();
        let payloads = payloads("node", signals);
        assert!(payloads.len() > 1);
        let mut seen = 0;
        for payload in &payloads {
            assert!(payload.len() <= MAX_PAYLOAD);
            seen += serde_json::from_str::<Notice>(payload)
                .unwrap()
                .signals
                .len();
        }
        assert_eq!(seen, 5_000);
    }
}
