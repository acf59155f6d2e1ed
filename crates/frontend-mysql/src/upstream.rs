//! Warden's own login upstream (credential injection): the target's `upstream_user` and
//! upstream password, answered with whatever plugin the server asks for among
//! `mysql_native_password` and `caching_sha2_password` (fast path), following
//! AuthSwitchRequests a bounded number of times.
//!
//! With `upstream_tls:` Warden asks for TLS right after the server's greeting
//! (SSLRequest) and logs in over it, verifying the server's certificate
//! ([`tls::client_config`](super::tls::client_config)); a server that does not offer TLS
//! is refused.
//!
//! Must never send a password in clear text (no `mysql_clear_password`), never go on
//! without TLS when `upstream_tls:` is set, never ask the server for
//! `CLIENT_LOCAL_FILES`, and never pass the server's login error text to the client (it
//! names the upstream account).

use std::time::Duration;

use bytes::{BufMut, BytesMut};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use warden_config::mysql_native::native_reply;

use super::errors::MyError;
use super::packet::{self, PacketReader};
use super::tls::{self, BoxIo, UpstreamTlsConfig};
use super::wire::{caps, Body};

/// At most this many AuthSwitchRequest / AuthMoreData rounds before giving up.
const MAX_AUTH_ROUNDS: usize = 4;
/// Largest packet accepted from the upstream during login.
const LOGIN_PACKET_LIMIT: usize = 64 * 1024;

/// How to reach and log in to the target's database.
#[derive(Clone)]
pub struct UpstreamSpec {
    pub addr: String,
    pub user: String,
    pub password: Option<String>,
    pub connect_timeout: Duration,
    /// `upstream_tls:`: log in over TLS.
    pub tls: Option<UpstreamTlsConfig>,
}

impl std::fmt::Debug for UpstreamSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamSpec")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// A logged-in upstream connection.
pub struct Upstream {
    pub reader: PacketReader<BoxIo>,
    /// Capabilities Warden asked the server for (they match what the client got).
    pub capabilities: u32,
}

/// What the session needs from the client's handshake.
pub struct SessionParams<'a> {
    pub client_capabilities: u32,
    pub collation: u8,
    pub database: Option<&'a str>,
}

/// Connects and logs in, bounded by the spec's timeout.
pub async fn connect(spec: &UpstreamSpec, params: SessionParams<'_>) -> Result<Upstream, MyError> {
    tokio::time::timeout(spec.connect_timeout, connect_inner(spec, params))
        .await
        .map_err(|_| MyError::Timeout("upstream login"))?
}

struct Greeting {
    capabilities: u32,
    nonce: Vec<u8>,
    plugin: String,
}

fn parse_greeting(payload: &[u8]) -> Result<Greeting, MyError> {
    let bad = |e: MyError| MyError::Upstream(format!("unreadable greeting: {e}"));
    let mut b = Body::new(payload);
    match b.u8().map_err(bad)? {
        10 => {}
        0xff => {
            return Err(MyError::Upstream(
                "the database refused the connection".into(),
            ))
        }
        v => {
            return Err(MyError::Upstream(format!(
                "unsupported protocol version {v}"
            )))
        }
    }
    b.cstr().map_err(bad)?;
    b.u32().map_err(bad)?;
    let mut nonce = b.bytes(8).map_err(bad)?.to_vec();
    b.u8().map_err(bad)?;
    let lower = u32::from(b.u16().map_err(bad)?);
    b.u8().map_err(bad)?;
    b.u16().map_err(bad)?;
    let upper = u32::from(b.u16().map_err(bad)?);
    let capabilities = lower | upper << 16;
    let auth_len = usize::from(b.u8().map_err(bad)?);
    b.bytes(10).map_err(bad)?;
    if capabilities & caps::SECURE_CONNECTION != 0 {
        let n = auth_len.saturating_sub(8).max(13);
        let part2 = b.bytes(n).map_err(bad)?;
        nonce.extend_from_slice(&part2[..n - 1]);
    }
    let plugin = if capabilities & caps::PLUGIN_AUTH != 0 {
        let rest = b.rest();
        let end = rest.iter().position(|c| *c == 0).unwrap_or(rest.len());
        String::from_utf8_lossy(&rest[..end]).into_owned()
    } else {
        "mysql_native_password".into()
    };
    Ok(Greeting {
        capabilities,
        nonce,
        plugin,
    })
}

/// The reply to `plugin`'s challenge, or why Warden will not answer it.
fn auth_reply(plugin: &str, password: &[u8], nonce: &[u8]) -> Result<Vec<u8>, MyError> {
    let nonce = nonce.strip_suffix(&[0]).unwrap_or(nonce);
    match plugin {
        "mysql_native_password" => Ok(native_reply(password, nonce)),
        "caching_sha2_password" => Ok(caching_sha2_reply(password, nonce)),
        other => Err(MyError::Upstream(format!(
            "the database asks for auth plugin {other}, which Warden does not speak upstream"
        ))),
    }
}

/// XOR(SHA256(pw), SHA256(SHA256(SHA256(pw)) ‖ nonce)).
fn caching_sha2_reply(password: &[u8], nonce: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let p1 = Sha256::digest(password);
    let p2 = Sha256::digest(p1);
    let mut h = Sha256::new();
    h.update(p2);
    h.update(nonce);
    let p3 = h.finalize();
    p1.iter().zip(p3.iter()).map(|(a, b)| a ^ b).collect()
}

async fn connect_inner(
    spec: &UpstreamSpec,
    params: SessionParams<'_>,
) -> Result<Upstream, MyError> {
    let tcp = TcpStream::connect(&spec.addr)
        .await
        .map_err(|e| MyError::Upstream(format!("connect {}: {}", spec.addr, e.kind())))?;
    let _ = tcp.set_nodelay(true);
    let mut reader = PacketReader::new(Box::new(tcp) as BoxIo, LOGIN_PACKET_LIMIT);
    let hello = reader
        .read_packet(0)
        .await?
        .ok_or_else(|| MyError::Upstream("closed before its greeting".into()))?;
    let greeting = parse_greeting(&hello.payload)?;
    let password = spec.password.as_deref().unwrap_or("").as_bytes();
    let mut wanted = (params.client_capabilities & caps::PASSED_UPSTREAM)
        | caps::LONG_PASSWORD
        | caps::PROTOCOL_41
        | caps::SECURE_CONNECTION
        | caps::PLUGIN_AUTH;
    if params.database.is_some() {
        wanted |= caps::CONNECT_WITH_DB;
    }
    let mut capabilities = wanted & (greeting.capabilities | caps::LONG_PASSWORD);
    let mut next = hello.last_seq.wrapping_add(1);
    if let Some(tls) = &spec.tls {
        if greeting.capabilities & caps::SSL == 0 {
            return Err(MyError::Upstream(
                "upstream_tls is set but the database does not offer TLS".into(),
            ));
        }
        capabilities |= caps::SSL;
        let mut request = BytesMut::with_capacity(32);
        request.put_u32_le(capabilities);
        request.put_u32_le(1 << 24);
        request.put_u8(params.collation);
        request.extend_from_slice(&[0u8; 23]);
        next = packet::send(reader.get_mut(), next, &request).await?;
        let io = reader.into_inner().ok_or_else(|| {
            MyError::Upstream("the database sent data before the TLS handshake".into())
        })?;
        reader = PacketReader::new(tls::connect(io, tls).await?, LOGIN_PACKET_LIMIT);
    }
    let plugin = match greeting.plugin.as_str() {
        "caching_sha2_password" => "caching_sha2_password",
        _ => "mysql_native_password",
    };
    let reply = auth_reply(plugin, password, &greeting.nonce)?;
    let mut out = BytesMut::with_capacity(128);
    out.put_u32_le(capabilities);
    out.put_u32_le(1 << 24);
    out.put_u8(params.collation);
    out.extend_from_slice(&[0u8; 23]);
    out.extend_from_slice(spec.user.as_bytes());
    out.put_u8(0);
    out.put_u8(reply.len() as u8);
    out.extend_from_slice(&reply);
    if let Some(db) = params.database {
        out.extend_from_slice(db.as_bytes());
        out.put_u8(0);
    }
    out.extend_from_slice(plugin.as_bytes());
    out.put_u8(0);
    let mut seq = packet::send(reader.get_mut(), next, &out).await?;
    for _ in 0..MAX_AUTH_ROUNDS {
        let answer = reader
            .read_packet(seq)
            .await?
            .ok_or_else(|| MyError::Upstream("closed during login".into()))?;
        seq = answer.last_seq.wrapping_add(1);
        let payload = &answer.payload[..];
        match payload.first() {
            Some(0x00) => return Ok(Upstream { reader, capabilities }),
            Some(0xff) => {
                let code = Body::new(&payload[1..]).u16().unwrap_or(0);
                tracing::warn!(addr = %spec.addr, code, "the upstream refused Warden's login");
                return Err(MyError::Upstream(format!(
                    "the database refused Warden's login (error {code}); check the target's upstream credentials"
                )));
            }
            Some(0xfe) if payload.len() > 1 => {
                let mut b = Body::new(&payload[1..]);
                let name = String::from_utf8_lossy(b.cstr()?).into_owned();
                let reply = auth_reply(&name, password, b.rest())?;
                seq = packet::send(reader.get_mut(), seq, &reply).await?;
            }
            Some(0x01) => match payload.get(1) {
                Some(3) => {} // caching_sha2 fast path succeeded; the OK follows
                Some(4) => {
                    return Err(MyError::Upstream(
                        "the database wants caching_sha2_password full authentication (TLS or RSA), which Warden does not do yet".into(),
                    ))
                }
                _ => return Err(MyError::Upstream("unexpected auth data from the database".into())),
            },
            _ => return Err(MyError::Upstream("unexpected packet during login".into())),
        }
    }
    Err(MyError::Upstream("too many authentication rounds".into()))
}

/// What of the upstream session decides how text is lexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    pub sql_mode: String,
    pub charset_client: String,
}

/// Reads the upstream session's `sql_mode` and `character_set_client` (right after
/// Warden's login, and after every statement that may change them).
pub async fn session_state<U: AsyncRead + AsyncWrite + Unpin>(
    up: &mut PacketReader<U>,
) -> Result<SessionState, MyError> {
    const QUERY: &[u8] = b"\x03SELECT @@SESSION.sql_mode, @@SESSION.character_set_client";
    packet::send(up.get_mut(), 0, QUERY).await?;
    let bad = || MyError::Upstream("unexpected answer to SELECT @@SESSION.sql_mode".into());
    // column count (2), two column definitions, EOF, the row, EOF
    let mut packets = Vec::with_capacity(6);
    for seq in 1..=6u8 {
        let p = up.read_packet(seq).await?.ok_or_else(bad)?;
        if p.payload.first() == Some(&0xff) {
            return Err(bad());
        }
        packets.push(p.payload);
    }
    if packets[0].first() != Some(&2) {
        return Err(bad());
    }
    let mut b = Body::new(&packets[4]);
    let mut text = || -> Result<String, MyError> {
        let n = usize::try_from(b.lenenc()?).map_err(|_| bad())?;
        Ok(String::from_utf8_lossy(b.bytes(n)?).into_owned())
    };
    Ok(SessionState {
        sql_mode: text()?,
        charset_client: text()?,
    })
}
