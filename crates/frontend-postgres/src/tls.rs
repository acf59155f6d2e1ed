//! rustls configurations for the PostgreSQL front-end: the client-facing server config
//! (ALPN `postgresql` so PostgreSQL 17 direct-TLS clients are welcome) and the upstream
//! client config (CA verification, optional client certificate).
//!
//! Must never disable certificate verification upstream.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use warden_config::{TlsFiles, UpstreamTls};

/// The ALPN protocol id PostgreSQL 17 uses for direct TLS.
pub const ALPN_POSTGRESQL: &[u8] = b"postgresql";

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn invalid(path: &Path, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", path.display()),
    )
}

pub fn load_certs(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let mut reader = BufReader::new(File::open(path).map_err(|e| invalid(path, e))?);
    let certs = rustls_pemfile::certs(&mut reader)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(path, e))?;
    if certs.is_empty() {
        return Err(invalid(path, "no certificate found"));
    }
    Ok(certs)
}

pub fn load_key(path: &Path) -> io::Result<PrivateKeyDer<'static>> {
    let mut reader = BufReader::new(File::open(path).map_err(|e| invalid(path, e))?);
    rustls_pemfile::private_key(&mut reader)
        .map_err(|e| invalid(path, e))?
        .ok_or_else(|| invalid(path, "no private key found"))
}

/// The server side for clients (SSLRequest and direct TLS).
pub fn server_config(files: &TlsFiles) -> io::Result<Arc<rustls::ServerConfig>> {
    let certs = load_certs(&files.cert)?;
    let key = load_key(&files.key)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid(&files.cert, e))?;
    config.alpn_protocols = vec![ALPN_POSTGRESQL.to_vec()];
    Ok(Arc::new(config))
}

/// The client side towards the upstream, verifying its certificate against `ca`.
pub fn client_config(
    tls: &UpstreamTls,
    upstream: &str,
) -> io::Result<(Arc<rustls::ClientConfig>, ServerName<'static>)> {
    let config = verifying_client_config(tls)?;
    let host = match &tls.server_name {
        Some(name) => name.clone(),
        None => upstream
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(upstream)
            .trim_matches(['[', ']'])
            .to_owned(),
    };
    let name = ServerName::try_from(host.clone()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid upstream TLS server name {host:?}"),
        )
    })?;
    Ok((config, name))
}

/// A client configuration trusting only `tls.ca` (required), with the client
/// certificate of `tls.client` when given (also used towards the fleet database).
pub fn verifying_client_config(tls: &UpstreamTls) -> io::Result<Arc<rustls::ClientConfig>> {
    let ca = tls.ca.as_deref().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "upstream_tls.ca is required for postgres targets",
        )
    })?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in load_certs(ca)? {
        roots.add(cert).map_err(|e| invalid(ca, e))?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots);
    let config = match &tls.client {
        Some(files) => builder
            .with_client_auth_cert(load_certs(&files.cert)?, load_key(&files.key)?)
            .map_err(|e| invalid(&files.cert, e))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}
