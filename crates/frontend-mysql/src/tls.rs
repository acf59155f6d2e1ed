//! TLS for clients (`SSLRequest`), with the target's `tls:` certificate and key: the
//! rustls server configuration, and the handshake on an accepted connection.
//!
//! Must never fall back to plaintext once a client asked for TLS, and never offer TLS
//! when the target has no `tls:` settings.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use warden_config::TlsFiles;

use super::errors::MyError;

/// A client connection, plain or TLS.
pub trait ClientIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ClientIo for T {}

pub type BoxIo = Box<dyn ClientIo>;

/// Longest a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

fn invalid(path: &Path, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", path.display()),
    )
}

/// The rustls server configuration for `files` (certificate chain and private key, PEM).
pub fn server_config(files: &TlsFiles) -> io::Result<Arc<rustls::ServerConfig>> {
    let mut reader = BufReader::new(File::open(&files.cert).map_err(|e| invalid(&files.cert, e))?);
    let certs = rustls_pemfile::certs(&mut reader)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(&files.cert, e))?;
    if certs.is_empty() {
        return Err(invalid(&files.cert, "no certificate found"));
    }
    let mut reader = BufReader::new(File::open(&files.key).map_err(|e| invalid(&files.key, e))?);
    let key = rustls_pemfile::private_key(&mut reader)
        .map_err(|e| invalid(&files.key, e))?
        .ok_or_else(|| invalid(&files.key, "no private key found"))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(io::Error::other)?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| invalid(&files.cert, e))?;
    Ok(Arc::new(config))
}

/// The TLS handshake after an SSLRequest (bounded in time).
pub async fn accept(tcp: TcpStream, config: &Arc<rustls::ServerConfig>) -> Result<BoxIo, MyError> {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(config));
    let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp))
        .await
        .map_err(|_| MyError::Timeout("TLS handshake"))?
        .map_err(|e| MyError::Malformed(format!("TLS handshake failed: {e}")))?;
    Ok(Box::new(tls))
}
