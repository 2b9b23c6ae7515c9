//! The relay over Postgres: notices go out with NOTIFY (every payload of a group in
//! one statement) and come in through a LISTEN connection.

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use tokio_util::sync::CancellationToken;

use super::{forward, receive};
use crate::error::{Error, Result};
use crate::inbox::Bus;

const CHANNEL: &str = "herald_inbox";
/// Postgres refuses payloads of 8,000 bytes or more.
const MAX_PAYLOAD: usize = 7_500;

/// Starts relaying `bus` through the Postgres database `db` until `stop` is cancelled.
pub async fn start(db: &DatabaseConnection, bus: &Bus, stop: CancellationToken) -> Result<()> {
    let failed = |e: sea_orm::sqlx::Error| Error::Bus(e.to_string());
    let mut listener = PgListener::connect_with(db.get_postgres_connection_pool())
        .await
        .map_err(failed)?;
    listener.listen(CHANNEL).await.map_err(failed)?;
    let node = uuid::Uuid::new_v4().to_string();
    let db = db.clone();
    forward(
        bus,
        node.clone(),
        MAX_PAYLOAD,
        stop.clone(),
        move |payloads| {
            let notify = Statement::from_sql_and_values(
                db.get_database_backend(),
                "SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload",
                [CHANNEL.into(), payloads.into()],
            );
            let db = db.clone();
            async move {
                if let Err(error) = db.execute_raw(notify).await {
                    tracing::warn!(%error, "could not relay inbox signals");
                }
            }
        },
    );
    tokio::spawn(listen(listener, bus.clone(), node, stop));
    Ok(())
}

/// Wakes connections here for what other processes published.
async fn listen(mut listener: PgListener, bus: Bus, node: String, stop: CancellationToken) {
    loop {
        let received = tokio::select! {
            () = stop.cancelled() => return,
            received = listener.try_recv() => received,
        };
        match received {
            Ok(Some(notification)) => receive(&bus, &node, notification.payload().as_bytes()),
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
