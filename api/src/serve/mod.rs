//! The HTTP/1.1 connection loop. Long-lived stream requests are answered without
//! hyper's per-connection buffers ([`direct`]).
//!
//! Not `axum::serve`: it serves every connection through hyper-util's HTTP/1-or-2
//! detector, whose first peek leaves hyper's read buffer to be grown from 8 to 16 KiB
//! on the next read, and it offers no way to tune the connection. An idle SSE stream
//! holds its connection's buffers for as long as it stays open, so they are most of
//! what a connected subscriber costs. Browsers speak HTTP/2 only over TLS, which a
//! proxy in front of Herald terminates, so plain HTTP/1.1 loses nothing.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

mod direct;
mod stall;

use direct::FirstRequest;
use stall::StallGuard;

/// After an accept error (for example out of file descriptors), wait before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How long a stream written directly may take to send its last events once the server
/// stops (its feed ends at once); a client that reads nothing is cut off after it.
const STREAM_FLUSH_GRACE: Duration = Duration::from_secs(2);

/// How long the connection loop waits on a client.
#[derive(Debug, Clone, Copy)]
pub struct ClientWaits {
    /// For a request head (a slow-loris guard); a keep-alive connection idle for as
    /// long is closed.
    pub header_read: Duration,
    /// For a write to make progress: a client that takes nothing written to it for
    /// this long (it stopped reading) is disconnected.
    pub write_stall: Duration,
}

impl ClientWaits {
    pub fn of(settings: &crate::state::Settings) -> Self {
        Self {
            header_read: settings.header_read_timeout,
            write_stall: settings.write_stall,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes; then stops accepting, lets
/// every connection finish the request it is on, and returns when all have closed.
pub async fn serve_http1(
    listener: TcpListener,
    app: Router,
    waits: ClientWaits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let stopping = CancellationToken::new();
    let connections = TaskTracker::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(waits.header_read);
    let stop_on_signal = stopping.clone();
    tokio::spawn(async move {
        shutdown.await;
        stop_on_signal.cancel();
    });
    loop {
        let accepted = tokio::select! {
            () = stopping.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        connections.spawn(connection(
            builder.clone(),
            waits,
            stream,
            peer,
            app.clone(),
            stopping.clone(),
        ));
    }
    // New clients are refused (and try another node) while these finish.
    drop(listener);
    connections.close();
    connections.wait().await;
}

async fn connection(
    builder: http1::Builder,
    waits: ClientWaits,
    mut stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    stopping: CancellationToken,
) {
    // Realtime frames are small and must not wait for the previous one's ACK.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "TCP_NODELAY could not be set");
    }
    // A client that has not sent its first request when the server stops is closed.
    let first = tokio::select! {
        first = direct::first_request(&mut stream, waits.header_read) => first,
        () = stopping.cancelled() => return,
    };
    match first {
        FirstRequest::Stream(mut request) => {
            request.extensions_mut().insert(ConnectInfo(peer));
            let Ok(response) = app.oneshot(*request).await;
            tokio::select! {
                () = direct::write_response(stream, response, waits.write_stall) => {}
                () = async {
                    stopping.cancelled().await;
                    tokio::time::sleep(STREAM_FLUSH_GRACE).await;
                } => {}
            }
            return;
        }
        FirstRequest::Gone => return,
        FirstRequest::Other => {}
    }
    // Handlers that need the client's address (login throttling) read it as axum's
    // `ConnectInfo`.
    let service =
        TowerToHyperService::new(app.map_request(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        }));
    let stream = StallGuard::new(stream, waits.write_stall);
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => return log_end(result),
        () = stopping.cancelled() => connection.as_mut().graceful_shutdown(),
    }
    log_end(connection.await);
}

fn log_end(result: hyper::Result<()>) {
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}
