//! TLS for clients (`SSLRequest`), with the target's `tls:` certificate and key: the
//! rustls server configuration, and the handshake on an accepted connection; and TLS to
//! the upstream (`upstream_tls:`): the rustls client configuration that verifies the
//! database's certificate against `upstream_tls.ca`.
//!
//! Must never fall back to plaintext once a client asked for TLS, never offer TLS when
//! the target has no `tls:` settings, and never connect upstream without verifying the
//! certificate when `upstream_tls:` is set.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use warden_config::{TlsFiles, UpstreamTls};

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

fn load_certs(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let mut reader = BufReader::new(File::open(path).map_err(|e| invalid(path, e))?);
    let certs = rustls_pemfile::certs(&mut reader)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(path, e))?;
    if certs.is_empty() {
        return Err(invalid(path, "no certificate found"));
    }
    Ok(certs)
}

fn load_key(path: &Path) -> io::Result<PrivateKeyDer<'static>> {
    let mut reader = BufReader::new(File::open(path).map_err(|e| invalid(path, e))?);
    rustls_pemfile::private_key(&mut reader)
        .map_err(|e| invalid(path, e))?
        .ok_or_else(|| invalid(path, "no private key found"))
}

/// The rustls server configuration for `files` (certificate chain and private key, PEM).
pub fn server_config(files: &TlsFiles) -> io::Result<Arc<rustls::ServerConfig>> {
    let certs = load_certs(&files.cert)?;
    let key = load_key(&files.key)?;
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

/// TLS to the upstream: the client configuration and the name its certificate must have.
#[derive(Clone)]
pub struct UpstreamTlsConfig {
    pub config: Arc<rustls::ClientConfig>,
    pub name: ServerName<'static>,
}

/// The client side towards the upstream `addr` (`host:port`), verifying its certificate
/// against `upstream_tls.ca` (required) for `server_name` or the host of `addr`; with
/// `client`, a client certificate too.
pub fn client_config(tls: &UpstreamTls, addr: &str) -> io::Result<UpstreamTlsConfig> {
    let ca = tls.ca.as_deref().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "upstream_tls.ca is required for mysql targets",
        )
    })?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in load_certs(ca)? {
        roots.add(cert).map_err(|e| invalid(ca, e))?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(io::Error::other)?
    .with_root_certificates(roots);
    let config = match &tls.client {
        Some(files) => builder
            .with_client_auth_cert(load_certs(&files.cert)?, load_key(&files.key)?)
            .map_err(|e| invalid(&files.cert, e))?,
        None => builder.with_no_client_auth(),
    };
    let host = match &tls.server_name {
        Some(name) => name.clone(),
        None => addr
            .rsplit_once(':')
            .map_or(addr, |(h, _)| h)
            .trim_matches(['[', ']'])
            .to_owned(),
    };
    let name = ServerName::try_from(host.clone()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid upstream TLS server name {host:?}"),
        )
    })?;
    Ok(UpstreamTlsConfig {
        config: Arc::new(config),
        name,
    })
}

/// The TLS handshake with the upstream after Warden's SSLRequest (bounded in time).
pub async fn connect(io: BoxIo, tls: &UpstreamTlsConfig) -> Result<BoxIo, MyError> {
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(&tls.config));
    let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, connector.connect(tls.name.clone(), io))
        .await
        .map_err(|_| MyError::Timeout("upstream TLS handshake"))?
        .map_err(|e| MyError::Upstream(format!("TLS handshake with the database failed: {e}")))?;
    Ok(Box::new(stream))
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
