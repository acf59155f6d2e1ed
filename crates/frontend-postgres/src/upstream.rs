//! Warden's own login to the upstream PostgreSQL server with the target's credentials
//! (credential injection): trust, cleartext, md5 or SCRAM-SHA-256, optionally over TLS
//! with CA verification.
//!
//! The upstream password lives only in [`UpstreamSpec`]; it must never be logged, audited,
//! or shown to the client (errors carry the server's message, never our secrets).

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256, SCRAM_SHA_256};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::codec::{self, Body, Frame, FrameReader};
use super::errors::PgError;

/// Any byte stream a session runs over (plain TCP or TLS).
pub trait PgIo: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static> PgIo for T {}
pub type BoxIo = Box<dyn PgIo>;

/// Where and how to log in upstream.
#[derive(Clone)]
pub struct UpstreamSpec {
    pub addr: String,
    pub user: String,
    pub password: Option<String>,
    /// Overrides the database the client asked for.
    pub database: Option<String>,
    pub tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for UpstreamSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamSpec")
            .field("addr", &self.addr)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("database", &self.database)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// A logged-in upstream connection, positioned right after its first ReadyForQuery.
pub struct Upstream {
    pub reader: FrameReader<BoxIo>,
    /// ParameterStatus messages to relay to the client.
    pub params: Vec<Frame>,
    /// The upstream's BackendKeyData (pid, secret), for cancel requests.
    pub key: Option<(u32, Vec<u8>)>,
    /// The ReadyForQuery that ended the login.
    pub ready: Frame,
    /// The session's `search_path` at login (reported by PostgreSQL 18 and later, asked
    /// with SHOW otherwise): a role or database default may put a schema before
    /// `pg_catalog` (see `settings.rs`).
    pub search_path: String,
}

async fn open(spec: &UpstreamSpec) -> Result<BoxIo, PgError> {
    let tcp = tokio::time::timeout(spec.connect_timeout, TcpStream::connect(&spec.addr))
        .await
        .map_err(|_| PgError::Timeout("connecting upstream"))?
        .map_err(|e| PgError::Upstream(format!("connect {}: {e}", spec.addr)))?;
    let _ = tcp.set_nodelay(true);
    let Some((config, name)) = &spec.tls else {
        return Ok(Box::new(tcp));
    };
    let mut tcp = tcp;
    let mut req = BytesMut::new();
    req.put_u32(8);
    req.put_u32(codec::SSL_REQUEST);
    tcp.write_all(&req).await?;
    let answer = tcp.read_u8().await?;
    if answer != b'S' {
        return Err(PgError::Upstream("server does not support TLS".into()));
    }
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(config));
    let tls = tokio::time::timeout(spec.connect_timeout, connector.connect(name.clone(), tcp))
        .await
        .map_err(|_| PgError::Timeout("upstream TLS handshake"))?
        .map_err(|e| PgError::Upstream(format!("TLS: {e}")))?;
    Ok(Box::new(tls))
}

fn upstream_error(body: &bytes::Bytes) -> PgError {
    let (code, message) = codec::parse_report(body);
    PgError::Upstream(format!(
        "{} ({})",
        message.unwrap_or_else(|| "error".into()),
        code.unwrap_or_default()
    ))
}

/// Connects and logs in as the target's user. `database` is the client's choice unless
/// the spec overrides it; `extra` are harmless startup parameters passed through
/// (application_name, client_encoding, DateStyle, ...).
pub async fn connect(
    spec: &UpstreamSpec,
    database: &str,
    extra: &[(String, String)],
    max_message: usize,
) -> Result<Upstream, PgError> {
    let login = async {
        let mut io = open(spec).await?;
        let db = spec.database.as_deref().unwrap_or(database);
        let mut params: Vec<(&str, &str)> = vec![("user", spec.user.as_str()), ("database", db)];
        params.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut out = BytesMut::new();
        codec::startup_packet(&mut out, &codec::startup_body(&params));
        io.write_all(&out).await?;
        io.flush().await?;
        let mut reader = FrameReader::new(io, max_message);
        authenticate(&mut reader, spec).await?;
        let mut params = Vec::new();
        let mut key = None;
        loop {
            let frame = reader
                .read_frame()
                .await?
                .ok_or_else(|| PgError::Upstream("closed during startup".into()))?;
            match frame.tag {
                b'S' => params.push(frame),
                b'K' => {
                    let mut b = Body::new(frame.body.clone());
                    let pid = b.i32()? as u32;
                    key = Some((pid, b.rest().to_vec()));
                }
                b'N' => {}
                b'Z' => {
                    let reported = params.iter().find_map(|p| {
                        let mut b = Body::new(p.body.clone());
                        let name = b.cstr().ok()?;
                        let value = b.cstr().ok()?;
                        name.eq_ignore_ascii_case("search_path").then_some(value)
                    });
                    let search_path = match reported {
                        Some(v) => v,
                        None => show(&mut reader, "search_path").await?,
                    };
                    return Ok(Upstream {
                        reader,
                        params,
                        key,
                        ready: frame,
                        search_path,
                    });
                }
                b'E' => return Err(upstream_error(&frame.body)),
                t => {
                    return Err(PgError::Upstream(format!(
                        "unexpected message '{}' at startup",
                        t as char
                    )))
                }
            }
        }
    };
    tokio::time::timeout(spec.connect_timeout * 3, login)
        .await
        .map_err(|_| PgError::Timeout("upstream login"))?
}

/// `SHOW name` on the fresh upstream session, before the client is let in; the answer
/// ends with a ReadyForQuery like the login's, which stays the one the client gets.
async fn show(reader: &mut FrameReader<BoxIo>, name: &str) -> Result<String, PgError> {
    let mut query = format!("SHOW {name}").into_bytes();
    query.push(0);
    send(reader, b'Q', &query).await?;
    let mut value = None;
    loop {
        let frame = reader
            .read_frame()
            .await?
            .ok_or_else(|| PgError::Upstream("closed during login".into()))?;
        match frame.tag {
            b'D' => {
                let mut b = Body::new(frame.body.clone());
                if b.i16()? == 1 {
                    let len = b.i32()?;
                    let bytes = b.bytes(usize::try_from(len).unwrap_or(0))?;
                    value = Some(String::from_utf8_lossy(&bytes).into_owned());
                }
            }
            b'E' => return Err(upstream_error(&frame.body)),
            b'Z' => {
                return value
                    .ok_or_else(|| PgError::Upstream(format!("SHOW {name} returned no value")))
            }
            _ => {}
        }
    }
}

async fn send(reader: &mut FrameReader<BoxIo>, tag: u8, body: &[u8]) -> Result<(), PgError> {
    let mut out = BytesMut::new();
    codec::typed(&mut out, tag, body);
    let io = reader.get_mut();
    io.write_all(&out).await?;
    io.flush().await?;
    Ok(())
}

fn password(spec: &UpstreamSpec) -> Result<&str, PgError> {
    spec.password.as_deref().ok_or_else(|| {
        PgError::Upstream("server asks for a password but the target has none configured".into())
    })
}

async fn authenticate(reader: &mut FrameReader<BoxIo>, spec: &UpstreamSpec) -> Result<(), PgError> {
    let mut scram: Option<ScramSha256> = None;
    loop {
        let frame = reader
            .read_frame()
            .await?
            .ok_or_else(|| PgError::Upstream("closed during authentication".into()))?;
        match frame.tag {
            b'E' => return Err(upstream_error(&frame.body)),
            b'R' => {}
            t => {
                return Err(PgError::Upstream(format!(
                    "unexpected message '{}' during authentication",
                    t as char
                )))
            }
        }
        let mut b = Body::new(frame.body.clone());
        match b.i32()? {
            0 => return Ok(()),
            3 => {
                let mut body = password(spec)?.as_bytes().to_vec();
                body.push(0);
                send(reader, b'p', &body).await?;
            }
            5 => {
                let salt: [u8; 4] = b.bytes(4)?[..]
                    .try_into()
                    .map_err(|_| PgError::Upstream("bad md5 salt".into()))?;
                let mut body =
                    md5_hash(spec.user.as_bytes(), password(spec)?.as_bytes(), salt).into_bytes();
                body.push(0);
                send(reader, b'p', &body).await?;
            }
            10 => {
                let mut offered = false;
                while b.remaining() > 0 {
                    let mech = b.cstr()?;
                    if mech.is_empty() {
                        break;
                    }
                    offered |= mech == SCRAM_SHA_256;
                }
                if !offered {
                    return Err(PgError::Upstream(
                        "server offers no supported SASL mechanism".into(),
                    ));
                }
                let client =
                    ScramSha256::new(password(spec)?.as_bytes(), ChannelBinding::unsupported());
                let mut body = BytesMut::new();
                body.extend_from_slice(SCRAM_SHA_256.as_bytes());
                body.put_u8(0);
                body.put_i32(client.message().len() as i32);
                body.extend_from_slice(client.message());
                send(reader, b'p', &body).await?;
                scram = Some(client);
            }
            11 => {
                let client = scram
                    .as_mut()
                    .ok_or_else(|| PgError::Upstream("unexpected SASL continue".into()))?;
                client
                    .update(&b.rest())
                    .map_err(|e| PgError::Upstream(format!("SCRAM: {e}")))?;
                let msg = client.message().to_vec();
                send(reader, b'p', &msg).await?;
            }
            12 => {
                let client = scram
                    .as_mut()
                    .ok_or_else(|| PgError::Upstream("unexpected SASL final".into()))?;
                client
                    .finish(&b.rest())
                    .map_err(|e| PgError::Upstream(format!("SCRAM server signature: {e}")))?;
            }
            code => {
                return Err(PgError::Upstream(format!(
                    "unsupported authentication method {code}"
                )))
            }
        }
    }
}

/// Forwards a cancel request for the upstream backend `(pid, secret)`.
pub async fn cancel(spec: &UpstreamSpec, pid: u32, secret: &[u8]) -> Result<(), PgError> {
    let mut io = open(spec).await?;
    let mut body = BytesMut::new();
    body.put_u32(codec::CANCEL_REQUEST);
    body.put_u32(pid);
    body.extend_from_slice(secret);
    let mut out = BytesMut::new();
    codec::startup_packet(&mut out, &body);
    io.write_all(&out).await?;
    io.flush().await?;
    // The server closes the connection without answering.
    let mut sink = [0u8; 16];
    let _ = tokio::time::timeout(Duration::from_secs(5), io.read(&mut sink)).await;
    Ok(())
}
