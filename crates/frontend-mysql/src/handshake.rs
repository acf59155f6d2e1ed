//! The connection phase as seen from the client: Warden's v10 greeting (its own
//! capabilities and a fresh 20-byte challenge) and the client's HandshakeResponse41.
//!
//! The greeting announces `caching_sha2_password` (as MySQL 8 does; clients without it
//! answer with `mysql_native_password`, see [`login`](super::login)) and `CLIENT_SSL`
//! when the target has `tls:` settings. An SSLRequest is recognised
//! ([`is_ssl_request`]) so that the connection can switch to TLS before the real
//! HandshakeResponse.
//!
//! Must never offer `CLIENT_LOCAL_FILES` or compression, never offer `CLIENT_SSL` without
//! TLS settings, and never accept a response that is not protocol 4.1, or that asks for
//! TLS on a connection that did not get it.

use bytes::{BufMut, BytesMut};
use rand::Rng;

use super::errors::MyError;
use super::sha2_auth;
use super::wire::{caps, Body, DEFAULT_COLLATION, STATUS_AUTOCOMMIT};

/// The plugin a client is switched to when `caching_sha2_password` cannot be used.
pub const NATIVE_PLUGIN: &str = "mysql_native_password";

/// What Warden announces as the server version. The `5.5.5-` prefix is how MariaDB
/// announces itself to clients, which then enable MariaDB behaviour.
pub const SERVER_VERSION: &str = "5.5.5-10.11.0-Warden";

/// A fresh 20-byte challenge (printable, never NUL: it ends in a NUL-terminated field).
pub fn challenge() -> [u8; 20] {
    let mut rng = rand::thread_rng();
    let mut c = [0u8; 20];
    for b in &mut c {
        *b = rng.gen_range(0x21u8..0x7f);
    }
    c
}

/// The capabilities Warden announces: [`caps::OFFERED`], and `CLIENT_SSL` when `tls`.
pub fn offered(tls: bool) -> u32 {
    caps::OFFERED | if tls { caps::SSL } else { 0 }
}

/// The v10 greeting payload (`tls`: the target has TLS settings).
pub fn greeting(connection_id: u32, challenge: &[u8; 20], tls: bool) -> BytesMut {
    let offered = offered(tls);
    let mut out = BytesMut::with_capacity(96);
    out.put_u8(10);
    out.extend_from_slice(SERVER_VERSION.as_bytes());
    out.put_u8(0);
    out.put_u32_le(connection_id);
    out.extend_from_slice(&challenge[..8]);
    out.put_u8(0);
    out.put_u16_le((offered & 0xffff) as u16);
    out.put_u8(DEFAULT_COLLATION);
    out.put_u16_le(STATUS_AUTOCOMMIT);
    out.put_u16_le((offered >> 16) as u16);
    out.put_u8(21);
    out.extend_from_slice(&[0u8; 10]);
    out.extend_from_slice(&challenge[8..]);
    out.put_u8(0);
    out.extend_from_slice(sha2_auth::PLUGIN.as_bytes());
    out.put_u8(0);
    out
}

/// The client's HandshakeResponse41, as far as Warden uses it.
#[derive(Debug)]
pub struct HandshakeResponse {
    /// The client's capabilities intersected with what Warden offered.
    pub capabilities: u32,
    pub collation: u8,
    pub user: String,
    /// The auth reply for `plugin` (never logged).
    pub auth_reply: Vec<u8>,
    pub database: Option<String>,
    /// Empty when the client did not name one.
    pub plugin: String,
}

fn text(bytes: &[u8], what: &str) -> Result<String, MyError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| MyError::Malformed(format!("{what} is not UTF-8")))
}

/// Whether `payload` is an SSLRequest: the first 32 bytes of a HandshakeResponse41 with
/// `CLIENT_SSL`, and nothing else.
pub fn is_ssl_request(payload: &[u8]) -> bool {
    payload.len() == 32
        && u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]) & caps::SSL != 0
}

/// Parses a HandshakeResponse41 (`tls`: the connection already is TLS). A response
/// asking for TLS on a plain connection, or a pre-4.1 response, is refused.
pub fn parse_response(payload: &[u8], tls: bool) -> Result<HandshakeResponse, MyError> {
    let mut b = Body::new(payload);
    let client_caps = b.u32()?;
    if client_caps & caps::PROTOCOL_41 == 0 {
        return Err(MyError::Unsupported(
            "clients older than protocol 4.1 are not supported".into(),
        ));
    }
    if client_caps & caps::SSL != 0 && !tls {
        return Err(MyError::Unsupported(
            "this target has no TLS settings (tls: in warden.yaml); connect without TLS (e.g. --skip-ssl)".into(),
        ));
    }
    let _max_packet = b.u32()?;
    let collation = b.u8()?;
    b.bytes(23)?;
    let user = text(b.cstr()?, "user name")?;
    let capabilities = client_caps & caps::OFFERED;
    let auth_reply = if capabilities & caps::PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
        let n =
            usize::try_from(b.lenenc()?).map_err(|_| MyError::Malformed("auth length".into()))?;
        b.bytes(n)?.to_vec()
    } else if capabilities & caps::SECURE_CONNECTION != 0 {
        let n = usize::from(b.u8()?);
        b.bytes(n)?.to_vec()
    } else {
        b.cstr()?.to_vec()
    };
    let database = if capabilities & caps::CONNECT_WITH_DB != 0 && !b.is_empty() {
        Some(text(b.cstr()?, "database name")?).filter(|d| !d.is_empty())
    } else {
        None
    };
    let plugin = if capabilities & caps::PLUGIN_AUTH != 0 && !b.is_empty() {
        text(b.cstr()?, "auth plugin name")?
    } else {
        String::new()
    };
    // Connection attributes (CONNECT_ATTRS) follow; Warden does not use them.
    Ok(HandshakeResponse {
        capabilities,
        collation,
        user,
        auth_reply,
        database,
        plugin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(caps_: u32, user: &str, reply: &[u8], db: Option<&str>, plugin: &str) -> Vec<u8> {
        let mut out = BytesMut::new();
        out.put_u32_le(caps_);
        out.put_u32_le(1 << 24);
        out.put_u8(45);
        out.extend_from_slice(&[0u8; 23]);
        out.extend_from_slice(user.as_bytes());
        out.put_u8(0);
        out.put_u8(reply.len() as u8);
        out.extend_from_slice(reply);
        if let Some(db) = db {
            out.extend_from_slice(db.as_bytes());
            out.put_u8(0);
        }
        out.extend_from_slice(plugin.as_bytes());
        out.put_u8(0);
        out.to_vec()
    }

    #[test]
    fn parses_a_41_response_and_drops_unoffered_capabilities() {
        let c = caps::PROTOCOL_41
            | caps::SECURE_CONNECTION
            | caps::CONNECT_WITH_DB
            | caps::PLUGIN_AUTH
            | caps::LOCAL_FILES;
        let r = parse_response(
            &response(c, "alice", &[1; 20], Some("shop"), NATIVE_PLUGIN),
            false,
        )
        .expect("parses");
        assert_eq!(r.user, "alice");
        assert_eq!(r.auth_reply, vec![1; 20]);
        assert_eq!(r.database.as_deref(), Some("shop"));
        assert_eq!(r.plugin, NATIVE_PLUGIN);
        assert_eq!(r.capabilities & caps::LOCAL_FILES, 0);
    }

    #[test]
    fn refuses_ssl_old_protocol_and_truncation() {
        let ssl = response(caps::PROTOCOL_41 | caps::SSL, "a", &[], None, "");
        assert!(matches!(
            parse_response(&ssl, false),
            Err(MyError::Unsupported(_))
        ));
        assert!(!is_ssl_request(&ssl));
        assert!(is_ssl_request(&ssl[..32]));
        assert!(parse_response(&ssl, true).is_ok());
        let old = response(caps::SECURE_CONNECTION, "a", &[], None, "");
        assert!(matches!(
            parse_response(&old, false),
            Err(MyError::Unsupported(_))
        ));
        let full = response(
            caps::PROTOCOL_41 | caps::SECURE_CONNECTION,
            "alice",
            &[1; 20],
            None,
            "",
        );
        assert!(parse_response(&full[..40], false).is_err());
    }

    #[test]
    fn greeting_never_offers_local_files_and_tls_only_when_configured() {
        let g = greeting(7, &challenge(), false);
        assert!(g.ends_with(b"caching_sha2_password\0"));
        assert_eq!(
            offered(false) & (caps::LOCAL_FILES | caps::SSL | caps::COMPRESS),
            0
        );
        assert_eq!(offered(true) & (caps::LOCAL_FILES | caps::COMPRESS), 0);
        assert_ne!(offered(true) & caps::SSL, 0);
        assert!(challenge().iter().all(|b| *b != 0));
    }
}
