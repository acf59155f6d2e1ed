//! The startup phase of a client connection: PostgreSQL 17 direct TLS, SSLRequest
//! (TLS via rustls when the target has a certificate), GSSENCRequest (refused with 'N'),
//! CancelRequest, and the StartupMessage for protocol 3.0 (3.2 accepted, other minor
//! versions negotiated down, unknown `_pq_.` options reported).
//!
//! Must never start a TLS handshake while unencrypted bytes are buffered (they would be
//! trusted as if encrypted), and never accept more than one StartupMessage.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::codec::{self, Body, FrameReader, CANCEL_REQUEST, GSSENC_REQUEST, SSL_REQUEST};
use super::errors::PgError;
use super::upstream::BoxIo;

/// The first byte of a TLS ClientHello record.
const TLS_HANDSHAKE: u8 = 0x16;

/// What the client asked for.
pub enum Opening {
    /// A session: the stream (possibly TLS now), its startup parameters and protocol.
    Startup(Startup),
    /// A CancelRequest for the session holding key `(pid, secret)`.
    Cancel { pid: u32, secret: Bytes },
    /// The client left before saying anything useful.
    Closed,
}

pub struct Startup {
    pub reader: FrameReader<BoxIo>,
    pub params: Vec<(String, String)>,
    /// Protocol minor version agreed with the client (0 or 2).
    pub minor: u16,
    pub tls: bool,
}

impl Startup {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

async fn accept_tls(io: BoxIo, config: &Arc<rustls::ServerConfig>) -> Result<BoxIo, PgError> {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(config));
    let tls = tokio::time::timeout(std::time::Duration::from_secs(15), acceptor.accept(io))
        .await
        .map_err(|_| PgError::Timeout("TLS handshake"))?
        .map_err(|e| PgError::Tls(e.to_string()))?;
    Ok(Box::new(tls))
}

/// Runs the startup phase on a freshly accepted connection.
pub async fn open(
    tcp: TcpStream,
    tls: Option<&Arc<rustls::ServerConfig>>,
    max_message: usize,
) -> Result<Opening, PgError> {
    let mut first = [0u8; 1];
    let n = tcp.peek(&mut first).await?;
    if n == 0 {
        return Ok(Opening::Closed);
    }
    let mut io: BoxIo = Box::new(tcp);
    let mut encrypted = false;
    if first[0] == TLS_HANDSHAKE {
        let Some(config) = tls else {
            return Err(PgError::Tls(
                "direct TLS is not configured for this target".into(),
            ));
        };
        io = accept_tls(io, config).await?;
        encrypted = true;
    }
    let mut reader = FrameReader::new(io, max_message);
    loop {
        let Some(packet) = reader.read_startup().await? else {
            return Ok(Opening::Closed);
        };
        let mut body = Body::new(packet);
        let code = body.i32()? as u32;
        match code {
            SSL_REQUEST | GSSENC_REQUEST if encrypted => {
                return Err(PgError::Protocol(
                    "encryption request on an encrypted connection".into(),
                ));
            }
            SSL_REQUEST => {
                if reader.buffered() > 0 {
                    return Err(PgError::Protocol(
                        "data received before the TLS handshake".into(),
                    ));
                }
                let mut io = reader.into_inner();
                match tls {
                    Some(config) => {
                        io.write_all(b"S").await?;
                        io.flush().await?;
                        io = accept_tls(io, config).await?;
                        encrypted = true;
                    }
                    None => {
                        io.write_all(b"N").await?;
                        io.flush().await?;
                    }
                }
                reader = FrameReader::new(io, max_message);
            }
            GSSENC_REQUEST => {
                reader.get_mut().write_all(b"N").await?;
                reader.get_mut().flush().await?;
            }
            CANCEL_REQUEST => {
                let pid = body.i32()? as u32;
                let secret = body.rest();
                if secret.len() < 4 || secret.len() > 256 {
                    return Err(PgError::Protocol("bad cancel key length".into()));
                }
                return Ok(Opening::Cancel { pid, secret });
            }
            version if version >> 16 == 3 => {
                let requested = (version & 0xffff) as u16;
                let params = read_params(&mut body)?;
                let (params, unsupported): (Vec<_>, Vec<_>) = params
                    .into_iter()
                    .partition(|(k, _)| !k.starts_with("_pq_."));
                let minor = if requested >= 2 { 2 } else { 0 };
                if requested != minor || !unsupported.is_empty() {
                    let mut out = BytesMut::new();
                    let names: Vec<String> = unsupported.into_iter().map(|(k, _)| k).collect();
                    codec::negotiate_protocol_version(&mut out, minor, &names);
                    reader.get_mut().write_all(&out).await?;
                }
                if !params.iter().any(|(k, _)| k == "user") {
                    return Err(PgError::Protocol(
                        "no PostgreSQL user name specified in startup packet".into(),
                    ));
                }
                return Ok(Opening::Startup(Startup {
                    reader,
                    params,
                    minor,
                    tls: encrypted,
                }));
            }
            other => {
                return Err(PgError::Protocol(format!(
                    "unsupported frontend protocol {}.{}",
                    other >> 16,
                    other & 0xffff
                )))
            }
        }
    }
}

pub(crate) fn read_params(body: &mut Body) -> Result<Vec<(String, String)>, PgError> {
    let mut params = Vec::new();
    loop {
        let key = body.cstr()?;
        if key.is_empty() {
            break;
        }
        let value = body.cstr()?;
        if params.iter().any(|(k, _): &(String, String)| *k == key) {
            return Err(PgError::Protocol(format!(
                "duplicate startup parameter \"{key}\""
            )));
        }
        params.push((key, value));
        if params.len() > 64 {
            return Err(PgError::Protocol("too many startup parameters".into()));
        }
    }
    Ok(params)
}
