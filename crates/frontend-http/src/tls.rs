//! rustls configuration for both sides of the HTTP front-end: the server config clients
//! connect to (certificate + key, ALPN h2 and http/1.1) and the client config Warden uses
//! towards the upstream (CA verification against the configured CA or the webpki roots,
//! optional client certificate).
//!
//! Must never: disable certificate verification towards the upstream, or log key
//! material.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn invalid(what: &str, path: &Path, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{what} {}: {e}", path.display()),
    )
}

/// Reads every certificate in a PEM file.
pub fn load_certs(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let data = std::fs::read(path).map_err(|e| invalid("cannot read certificate", path, e))?;
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut data.as_slice()).collect();
    let certs = certs.map_err(|e| invalid("bad PEM certificate", path, e))?;
    if certs.is_empty() {
        return Err(invalid("no certificate in", path, "empty"));
    }
    Ok(certs)
}

/// Reads the first private key in a PEM file.
pub fn load_key(path: &Path) -> io::Result<PrivateKeyDer<'static>> {
    let data = std::fs::read(path).map_err(|e| invalid("cannot read key", path, e))?;
    rustls_pemfile::private_key(&mut data.as_slice())
        .map_err(|e| invalid("bad PEM key", path, e))?
        .ok_or_else(|| invalid("no private key in", path, "empty"))
}

/// The server side: what clients see when the target has `tls: {cert, key}`.
pub fn server_config(cert: &Path, key: &Path) -> io::Result<Arc<ServerConfig>> {
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::other(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(load_certs(cert)?, load_key(key)?)
        .map_err(|e| invalid("certificate/key mismatch for", cert, e))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// The upstream side: verify against `ca` (or the webpki roots); present a client
/// certificate when both `cert` and `key` are given.
pub fn client_config(
    ca: Option<&Path>,
    cert: Option<&Path>,
    key: Option<&Path>,
) -> io::Result<ClientConfig> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(ca) => {
            for c in load_certs(ca)? {
                roots
                    .add(c)
                    .map_err(|e| invalid("unusable CA certificate in", ca, e))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::other(e.to_string()))?
        .with_root_certificates(roots);
    let cfg = match (cert, key) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
            .map_err(|e| invalid("client certificate/key mismatch for", cert, e))?,
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "upstream_tls needs both cert and key for a client certificate",
            ))
        }
    };
    // ALPN is left to the connector (HTTP/1.1 only: upgrades need it).
    Ok(cfg)
}
