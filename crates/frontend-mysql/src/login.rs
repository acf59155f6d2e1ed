//! Client authentication: the client logs in as its Warden user with
//! `mysql_native_password`, checked against the user's stored verifier
//! (SHA1(SHA1(password)), `mysql_native_password:` in warden.yaml, the third line of
//! `warden hash-password`). A client that starts with another plugin
//! (`caching_sha2_password`, ...) is switched to `mysql_native_password` with an
//! AuthSwitchRequest. Per-user and per-address throttling applies before any secret is
//! looked at.
//!
//! Must never tell the client whether a user exists (unknown users go through the same
//! exchange against a dummy verifier and get the same error), and never log or audit a
//! password or a reply.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};
use warden_config::MysqlNativeVerifier;
use warden_gate::auth::{LoginThrottle, UserDirectory};
use warden_inspect::Actor;

use super::errors::MyError;
use super::handshake::{HandshakeResponse, NATIVE_PLUGIN};
use super::packet::{self, PacketReader};

/// Why a login failed: what the audit record says (never a secret), and what the
/// client is told.
#[derive(Debug)]
pub struct LoginFailure {
    pub audit_reason: String,
    pub client: MyError,
    /// The sequence id the ERR packet must carry.
    pub seq: u8,
}

impl LoginFailure {
    fn denied(user: &str, reason: impl Into<String>, seq: u8) -> LoginFailure {
        LoginFailure {
            audit_reason: reason.into(),
            client: MyError::Auth(format!("Access denied for user '{user}' (Warden)")),
            seq,
        }
    }

    fn protocol(e: MyError, seq: u8) -> LoginFailure {
        LoginFailure {
            audit_reason: format!("protocol: {e}"),
            client: e,
            seq,
        }
    }
}

fn dummy_verifier() -> &'static MysqlNativeVerifier {
    static DUMMY: OnceLock<MysqlNativeVerifier> = OnceLock::new();
    DUMMY.get_or_init(|| MysqlNativeVerifier::generate("warden-dummy-password-for-timing"))
}

/// The client's login. `next_seq` is the sequence id Warden's next packet must carry;
/// on success the actor and the sequence id for the final OK are returned.
pub async fn login<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut PacketReader<S>,
    response: &HandshakeResponse,
    challenge: &[u8; 20],
    next_seq: u8,
    users: &Arc<UserDirectory>,
    throttle: &LoginThrottle,
    ip: Option<IpAddr>,
) -> Result<(Actor, u8), LoginFailure> {
    let name = response.user.as_str();
    if let Err(t) = throttle.check(name, ip) {
        return Err(LoginFailure {
            audit_reason: t.audit_reason(),
            client: MyError::Auth(t.message()),
            seq: next_seq,
        });
    }
    let (reply, seq) = native_reply(client, response, challenge, next_seq)
        .await
        .map_err(|e| LoginFailure::protocol(e, next_seq.wrapping_add(2)))?;
    let stored = users.mysql_native_verifier(name);
    let verifier = stored.as_ref().unwrap_or_else(|| dummy_verifier());
    let matches = verifier.verify(challenge, &reply) && stored.is_some();
    let user = users.user(name);
    match user {
        Some(user) if matches => {
            throttle.success(name);
            Ok((user.actor(), seq))
        }
        _ => {
            let reason = match (user.is_some(), stored.is_some()) {
                (false, _) => "unknown user",
                (true, false) => "no mysql_native_password verifier configured",
                (true, true) => "wrong password",
            };
            let delay = throttle.failure(name, ip);
            tokio::time::sleep(delay.min(Duration::from_secs(5))).await;
            Err(LoginFailure::denied(name, reason, seq))
        }
    }
}

/// The client's `mysql_native_password` reply: the one in the HandshakeResponse, or —
/// when the client started with another plugin — the answer to an AuthSwitchRequest.
async fn native_reply<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut PacketReader<S>,
    response: &HandshakeResponse,
    challenge: &[u8; 20],
    next_seq: u8,
) -> Result<(Vec<u8>, u8), MyError> {
    if response.plugin.is_empty() || response.plugin == NATIVE_PLUGIN {
        return Ok((response.auth_reply.clone(), next_seq));
    }
    let mut switch = BytesMut::with_capacity(48);
    switch.put_u8(0xfe);
    switch.extend_from_slice(NATIVE_PLUGIN.as_bytes());
    switch.put_u8(0);
    switch.extend_from_slice(challenge);
    switch.put_u8(0);
    let expected = packet::send(client.get_mut(), next_seq, &switch).await?;
    let answer = client
        .read_packet(expected)
        .await?
        .ok_or_else(|| MyError::Malformed("connection closed during authentication".into()))?;
    Ok((answer.payload.to_vec(), answer.last_seq.wrapping_add(1)))
}
