//! Opening one SMTP connection. The TCP socket is made here rather than by lettre
//! so it can have `TCP_NODELAY`: lettre writes a message's body and its closing
//! `.` in two writes, and with Nagle's algorithm plus the server's delayed ACK the
//! second write waited ~40 ms — every message, every connection (measured: 23
//! messages/s on one connection to a local sink).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

const AUTH_MECHANISMS: &[Mechanism] = &[Mechanism::Plain, Mechanism::Login];

/// Why a connection could not be opened or a message not sent.
#[derive(Debug, thiserror::Error)]
pub(super) enum SmtpFailure {
    #[error("cannot connect to {target}")]
    Connect {
        target: String,
        #[source]
        source: io::Error,
    },
    #[error("TLS handshake with {target} failed")]
    Tls {
        target: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Smtp(#[from] lettre::transport::smtp::Error),
}

/// How the session is protected.
pub(super) enum Protection {
    Plain,
    /// Plain connect, then STARTTLS through lettre.
    Starttls(TlsParameters),
    /// TLS from the first byte, done here (lettre's own path would make the socket).
    Implicit {
        connector: TlsConnector,
        server_name: ServerName<'static>,
    },
}

/// How to open one authenticated connection.
pub(super) struct Connector {
    pub host: String,
    pub port: u16,
    pub timeout: Duration,
    pub hello_name: ClientId,
    pub protection: Protection,
    pub credentials: Option<Credentials>,
}

impl Connector {
    pub(super) async fn connect(&self) -> Result<AsyncSmtpConnection, SmtpFailure> {
        let target = format!("{}:{}", self.host, self.port);
        let tcp = self.open_tcp(&target).await?;
        let mut connection = match &self.protection {
            Protection::Implicit {
                connector,
                server_name,
            } => {
                let handshake = connector.connect(server_name.clone(), tcp);
                let tls = tokio::time::timeout(self.timeout, handshake)
                    .await
                    .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
                    .map_err(|source| SmtpFailure::Tls { target, source })?;
                AsyncSmtpConnection::connect_with_transport(
                    Box::new(ImplicitTls(tls)),
                    &self.hello_name,
                )
                .await?
            }
            Protection::Plain | Protection::Starttls(_) => {
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello_name).await?
            }
        };
        if let Protection::Starttls(parameters) = &self.protection {
            connection
                .starttls(parameters.clone(), &self.hello_name)
                .await?;
        }
        if let Some(credentials) = &self.credentials {
            connection.auth(AUTH_MECHANISMS, credentials).await?;
        }
        Ok(connection)
    }

    async fn open_tcp(&self, target: &str) -> Result<TcpStream, SmtpFailure> {
        let failure = |source| SmtpFailure::Connect {
            target: target.to_owned(),
            source,
        };
        let tcp = tokio::time::timeout(
            self.timeout,
            TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
        .map_err(failure)?;
        tcp.set_nodelay(true).map_err(failure)?;
        Ok(tcp)
    }
}

/// The TLS client config for implicit TLS: Mozilla's roots plus an optional extra one.
pub(super) fn implicit_tls_connector(
    extra_root_pem: Option<&str>,
) -> Result<TlsConnector, rustls::Error> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = extra_root_pem {
        for certificate in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let certificate =
                certificate.map_err(|error| rustls::Error::General(error.to_string()))?;
            roots.add(certificate)?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// A TLS stream lettre can drive: its stream trait also asks for the peer address.
#[derive(Debug)]
struct ImplicitTls(TlsStream<TcpStream>);

impl AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl AsyncRead for ImplicitTls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ImplicitTls {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}
