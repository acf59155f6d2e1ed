//! Client authentication against Warden users:
//!
//! * `caching_sha2_password` (what Warden's greeting announces, as MySQL 8 does): the
//!   fast path against the SHA256(SHA256(password)) remembered after an earlier full
//!   authentication ([`sha2_auth`](super::sha2_auth)); otherwise, over TLS, full
//!   authentication — the cleartext password checked against the user's argon2id
//!   `password_hash` (or, for users with only that, the `mysql_native_password`
//!   verifier). Without TLS the password comes RSA-encrypted to Warden's key
//!   ([`rsa_auth`](super::rsa_auth)), which a client may ask for first.
//! * `mysql_native_password`, checked against the user's stored verifier
//!   (SHA1(SHA1(password)), `mysql_native_password:` in warden.yaml, the third line of
//!   `warden hash-password`). A client starting with any other plugin is switched to it
//!   with an AuthSwitchRequest.
//!
//! Per-user and per-address throttling applies before any secret is looked at.
//!
//! Must never tell the client whether a user exists (unknown users go through the same
//! exchange against dummy credentials and get the same error), never take a cleartext
//! password without TLS, and never log or audit a password or a reply.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};
use warden_config::mysql_native::native_reply;
use warden_config::MysqlNativeVerifier;
use warden_gate::auth::{LoginMethod, LoginThrottle, User, UserDirectory};
use warden_inspect::Actor;

use super::errors::MyError;
use super::handshake::{HandshakeResponse, NATIVE_PLUGIN};
use super::packet::{self, PacketReader};
use super::rsa_auth::{RsaKeys, REQUEST_PUBLIC_KEY};
use super::sha2_auth::{self, Sha2Cache};

/// Why a login failed: what the audit record says (never a secret), and what the
/// client is told.
#[derive(Debug)]
pub struct LoginFailure {
    pub audit_reason: String,
    pub client: MyError,
    /// The sequence id the ERR packet must carry.
    pub seq: u8,
    pub method: LoginMethod,
}

impl LoginFailure {
    fn denied(user: &str, reason: impl Into<String>, seq: u8, method: LoginMethod) -> Self {
        LoginFailure {
            audit_reason: reason.into(),
            client: MyError::Auth(format!("Access denied for user '{user}' (Warden)")),
            seq,
            method,
        }
    }

    fn protocol(e: MyError, seq: u8, method: LoginMethod) -> LoginFailure {
        LoginFailure {
            audit_reason: format!("protocol: {e}"),
            client: e,
            seq,
            method,
        }
    }
}

/// A successful login: who, the sequence id of the final OK, and how.
pub struct LoggedIn {
    pub actor: Actor,
    pub seq: u8,
    pub method: LoginMethod,
}

/// Where credentials are checked, for one connection.
pub struct LoginContext<'a> {
    pub users: &'a Arc<UserDirectory>,
    pub throttle: &'a LoginThrottle,
    pub ip: Option<IpAddr>,
    /// The client connection is TLS.
    pub tls: bool,
    pub sha2_cache: &'a Sha2Cache,
    /// The 20-byte challenge of Warden's greeting.
    pub challenge: &'a [u8; 20],
    /// The key for `caching_sha2_password` full authentication without TLS.
    pub rsa: &'a RsaKeys,
}

fn dummy_verifier() -> &'static MysqlNativeVerifier {
    static DUMMY: OnceLock<MysqlNativeVerifier> = OnceLock::new();
    DUMMY.get_or_init(|| MysqlNativeVerifier::generate("warden-dummy-password-for-timing"))
}

/// The stored credential a full authentication checks, as text (the cache key).
fn credential(user: &User) -> Option<String> {
    user.password_hash
        .clone()
        .or_else(|| user.mysql_native.as_ref().map(MysqlNativeVerifier::to_text))
}

/// The client's login. `next_seq` is the sequence id Warden's next packet must carry.
pub async fn login<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut PacketReader<S>,
    response: &HandshakeResponse,
    next_seq: u8,
    cx: &LoginContext<'_>,
) -> Result<LoggedIn, LoginFailure> {
    let name = response.user.as_str();
    let sha2 = response.plugin == sha2_auth::PLUGIN;
    if let Err(t) = cx.throttle.check(name, cx.ip) {
        return Err(LoginFailure {
            audit_reason: t.audit_reason(),
            client: MyError::Auth(t.message()),
            seq: next_seq,
            method: if sha2 {
                LoginMethod::MysqlCachingSha2
            } else {
                LoginMethod::MysqlNative
            },
        });
    }
    if sha2 {
        return caching_sha2(client, response, next_seq, cx).await;
    }
    native(client, response, next_seq, cx).await
}

fn succeeded(cx: &LoginContext<'_>, user: &User, seq: u8, method: LoginMethod) -> LoggedIn {
    cx.throttle.success(&user.name);
    LoggedIn {
        actor: user.actor(),
        seq,
        method,
    }
}

async fn failed(
    cx: &LoginContext<'_>,
    name: &str,
    reason: &str,
    seq: u8,
    method: LoginMethod,
) -> LoginFailure {
    let delay = cx.throttle.failure(name, cx.ip);
    tokio::time::sleep(delay.min(Duration::from_secs(5))).await;
    LoginFailure::denied(name, reason, seq, method)
}

/// `caching_sha2_password`: fast path, or full authentication (the password over TLS,
/// or RSA-encrypted without TLS).
async fn caching_sha2<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut PacketReader<S>,
    response: &HandshakeResponse,
    next_seq: u8,
    cx: &LoginContext<'_>,
) -> Result<LoggedIn, LoginFailure> {
    const METHOD: LoginMethod = LoginMethod::MysqlCachingSha2;
    let (name, challenge) = (response.user.as_str(), cx.challenge);
    let user = cx.users.user(name);
    let stored = user.as_deref().and_then(credential);
    let cached = stored.as_deref().and_then(|c| cx.sha2_cache.get(name, c));
    if let (Some(user), Some(stage2)) = (&user, cached) {
        if !sha2_auth::fast_verify(&stage2, challenge, &response.auth_reply) {
            return Err(failed(cx, name, "wrong password", next_seq, METHOD).await);
        }
        let seq = packet::send(client.get_mut(), next_seq, &sha2_auth::FAST_AUTH_OK)
            .await
            .map_err(|e| LoginFailure::protocol(e, next_seq, METHOD))?;
        return Ok(succeeded(cx, user, seq, METHOD));
    }
    let (password, seq) = full_auth_password(client, next_seq, cx)
        .await
        .map_err(|e| LoginFailure::protocol(e, next_seq.wrapping_add(2), METHOD))?;
    let Some(password) = password else {
        let reason = "reply not encrypted with the RSA key of this Warden";
        return Err(failed(cx, name, reason, seq, METHOD).await);
    };
    let password = String::from_utf8_lossy(&password).into_owned();
    let checked = match user.as_deref() {
        Some(u) if u.password_hash.is_none() && u.mysql_native.is_some() => {
            let reply = native_reply(password.as_bytes(), challenge);
            if u.mysql_native
                .as_ref()
                .is_some_and(|v| v.verify(challenge, &reply))
            {
                Ok(())
            } else {
                Err("wrong password")
            }
        }
        _ => match cx.users.authenticate(name, &password).await {
            Ok(_) => Ok(()),
            Err(_) if user.is_none() => Err("unknown user"),
            Err(_) if stored.is_none() => {
                Err("no password_hash or mysql_native_password configured")
            }
            Err(_) => Err("wrong password"),
        },
    };
    match (checked, &user, &stored) {
        (Ok(()), Some(user), Some(stored)) => {
            cx.sha2_cache
                .put(name, stored, sha2_auth::stage2(password.as_bytes()));
            Ok(succeeded(cx, user, seq, METHOD))
        }
        (Err(reason), _, _) => Err(failed(cx, name, reason, seq, METHOD).await),
        _ => Err(failed(cx, name, "unknown user", seq, METHOD).await),
    }
}

/// Full authentication: asks for the password (AuthMoreData `0x04`) and reads it — as
/// sent over TLS, or without TLS RSA-decrypted (after sending the public key when the
/// client asks for it). `None`: a reply without TLS that does not decrypt with Warden's
/// key (a cleartext password is never taken there). Also the sequence id of Warden's
/// next packet.
async fn full_auth_password<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut PacketReader<S>,
    next_seq: u8,
    cx: &LoginContext<'_>,
) -> Result<(Option<Vec<u8>>, u8), MyError> {
    let mut expected =
        packet::send(client.get_mut(), next_seq, &sha2_auth::PERFORM_FULL_AUTH).await?;
    for round in 0..2 {
        let answer = client
            .read_packet(expected)
            .await?
            .ok_or_else(|| MyError::Malformed("connection closed during authentication".into()))?;
        let seq = answer.last_seq.wrapping_add(1);
        if cx.tls {
            let password = answer.payload.strip_suffix(&[0]).unwrap_or(&answer.payload);
            return Ok((Some(password.to_vec()), seq));
        }
        if answer.payload[..] == [REQUEST_PUBLIC_KEY] && round == 0 {
            let mut more = Vec::with_capacity(1 + cx.rsa.public_pem().len());
            more.push(0x01);
            more.extend_from_slice(cx.rsa.public_pem().as_bytes());
            expected = packet::send(client.get_mut(), seq, &more).await?;
            continue;
        }
        return Ok((cx.rsa.decrypt_password(&answer.payload, cx.challenge), seq));
    }
    Err(MyError::Malformed(
        "the public key was asked for twice during authentication".into(),
    ))
}

/// `mysql_native_password`, switching a client that started with another plugin.
async fn native<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut PacketReader<S>,
    response: &HandshakeResponse,
    next_seq: u8,
    cx: &LoginContext<'_>,
) -> Result<LoggedIn, LoginFailure> {
    const METHOD: LoginMethod = LoginMethod::MysqlNative;
    let (name, challenge) = (response.user.as_str(), cx.challenge);
    let (reply, seq) = native_reply_of(client, response, challenge, next_seq)
        .await
        .map_err(|e| LoginFailure::protocol(e, next_seq.wrapping_add(2), METHOD))?;
    let stored = cx.users.mysql_native_verifier(name);
    let verifier = stored.as_ref().unwrap_or_else(|| dummy_verifier());
    let matches = verifier.verify(challenge, &reply) && stored.is_some();
    match cx.users.user(name) {
        Some(user) if matches => Ok(succeeded(cx, &user, seq, METHOD)),
        user => {
            let reason = match (user.is_some(), stored.is_some()) {
                (false, _) => "unknown user",
                (true, false) => "no mysql_native_password verifier configured",
                (true, true) => "wrong password",
            };
            Err(failed(cx, name, reason, seq, METHOD).await)
        }
    }
}

/// The client's `mysql_native_password` reply: the one in the HandshakeResponse, or —
/// when the client started with another plugin — the answer to an AuthSwitchRequest.
async fn native_reply_of<S: AsyncRead + AsyncWrite + Unpin>(
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
