//! Serving an axum router on 127.0.0.1 (port 0), over HTTP/1.1 and h2c alike.

use axum::Router;
use tokio::net::TcpListener;

/// Binds 127.0.0.1 on a free port; returns the listener and `http://127.0.0.1:port`,
/// for receivers that must know their own address (a token URI in a key file).
pub async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (listener, base)
}

/// Serves `router` on `listener` until the test's runtime ends.
pub fn serve_on(listener: TcpListener, router: Router) {
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
}

/// Serves `router` on a fresh port; returns its base URL.
pub async fn serve(router: Router) -> String {
    let (listener, base) = bind().await;
    serve_on(listener, router);
    base
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}
