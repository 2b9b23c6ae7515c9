//! Serving an axum router on 127.0.0.1 (port 0): in the clear, or over TLS with the
//! test CA's certificate (HTTP/2 or HTTP/1.1, chosen by ALPN).

use std::io;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

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

/// Serves `router` over TLS on a fresh port; returns `https://127.0.0.1:port`. Clients
/// must trust [`super::tls::CA_PEM`].
pub async fn serve_tls(router: Router) -> String {
    let (tcp, base) = bind().await;
    let listener = TlsListener {
        tcp,
        acceptor: super::tls::acceptor(&[b"h2", b"http/1.1"]),
    };
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    base.replacen("http://", "https://", 1)
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// Connections that completed a TLS handshake.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            // A client that refuses the certificate drops its own connection only.
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
