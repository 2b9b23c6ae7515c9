//! The test CA and a server certificate it signed (for `localhost` and `127.0.0.1`),
//! for test servers that speak TLS: SMTP's STARTTLS and implicit TLS, APNs's HTTP/2.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// The CA a client must be told to trust.
pub const CA_PEM: &str = include_str!("../fixtures/test-ca.pem");
const CERT: &[u8] = include_bytes!("../fixtures/test-server-cert.pem");
const KEY: &[u8] = include_bytes!("../fixtures/test-server-key.pem");

/// An acceptor with the test certificate, offering the protocols `alpn` by ALPN.
pub fn acceptor(alpn: &[&[u8]]) -> TlsAcceptor {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let chain = CertificateDer::pem_slice_iter(CERT)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, PrivateKeyDer::from_pem_slice(KEY).unwrap())
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsAcceptor::from(Arc::new(config))
}
