//! Client authentication: the client logs in as its Warden user with SCRAM-SHA-256
//! (against the user's stored verifier) or, only over TLS, a cleartext password checked
//! against the argon2id hash. Per-user and per-address throttling applies before any
//! secret is looked at.
//!
//! Must never accept a cleartext password over an unencrypted connection, never tell the
//! client whether a user exists, and never log or audit a password.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use tokio::io::AsyncWriteExt;
use warden_inspect::Actor;

use super::codec::{self, Body, FrameReader};
use super::errors::PgError;
use super::scram::{self, ScramServer, MECHANISM};
use super::upstream::BoxIo;
use warden_gate::auth::{LoginMethod, LoginThrottle, UserDirectory};

/// Why a login failed: what the audit record says (never a secret), and what the client
/// is told.
#[derive(Debug)]
pub struct LoginFailure {
    pub audit_reason: String,
    pub client: PgError,
    /// The method the login was asked to use (set by [`login`]).
    pub method: LoginMethod,
}

impl LoginFailure {
    fn bad(reason: impl Into<String>) -> LoginFailure {
        LoginFailure {
            audit_reason: reason.into(),
            client: PgError::Auth("password authentication failed".into()),
            method: LoginMethod::Scram,
        }
    }
}

impl From<PgError> for LoginFailure {
    fn from(e: PgError) -> LoginFailure {
        LoginFailure {
            audit_reason: format!("protocol: {e}"),
            client: e,
            method: LoginMethod::Scram,
        }
    }
}

async fn send(reader: &mut FrameReader<BoxIo>, out: &BytesMut) -> Result<(), PgError> {
    let io = reader.get_mut();
    io.write_all(out).await?;
    io.flush().await?;
    Ok(())
}

async fn password_message(reader: &mut FrameReader<BoxIo>) -> Result<Body, PgError> {
    let frame = reader
        .read_frame()
        .await?
        .ok_or_else(|| PgError::Protocol("connection closed during authentication".into()))?;
    if frame.tag != b'p' {
        return Err(PgError::Protocol(format!(
            "expected password message, got '{}'",
            frame.tag as char
        )));
    }
    Ok(Body::new(frame.body))
}

/// Authenticates `name`. On success returns the actor (roles from config) and the
/// method used: SCRAM-SHA-256 when the user has a verifier (and for unknown users, who
/// get the same exchange), else a cleartext password over TLS.
pub async fn login(
    reader: &mut FrameReader<BoxIo>,
    name: &str,
    tls: bool,
    users: &Arc<UserDirectory>,
    throttle: &LoginThrottle,
    ip: Option<IpAddr>,
) -> Result<(Actor, LoginMethod), LoginFailure> {
    let verifier = users.scram_verifier(name);
    let method = if verifier.is_none() && tls {
        LoginMethod::Password
    } else {
        LoginMethod::Scram
    };
    let with_method = |mut f: LoginFailure| {
        f.method = method;
        f
    };
    if let Err(t) = throttle.check(name, ip) {
        return Err(LoginFailure {
            audit_reason: t.audit_reason(),
            client: PgError::Auth(t.message()),
            method,
        });
    }
    let result = match verifier {
        Some(verifier) => scram_exchange(reader, verifier)
            .await
            .map(|()| users.user(name).map(|u| u.actor())),
        None if tls => cleartext(reader, name, users).await.map(Some),
        None => {
            // Same exchange as a real user, then fail: no user-existence oracle.
            let known = users.user(name).is_some();
            let _ = scram_exchange(reader, scram::dummy_verifier(name)).await;
            Err(LoginFailure::bad(if known {
                "no SCRAM verifier configured and connection is not TLS"
            } else {
                "unknown user"
            }))
        }
    };
    match result {
        Ok(Some(actor)) => {
            throttle.success(name);
            Ok((actor, method))
        }
        Ok(None) => Err(with_method(LoginFailure::bad("unknown user"))),
        Err(failure) => {
            let delay = throttle.failure(name, ip);
            tokio::time::sleep(delay.min(std::time::Duration::from_secs(5))).await;
            Err(with_method(failure))
        }
    }
}

async fn scram_exchange(
    reader: &mut FrameReader<BoxIo>,
    verifier: warden_gate::auth::ScramVerifier,
) -> Result<(), LoginFailure> {
    let mut out = BytesMut::new();
    let mut mechs = BytesMut::new();
    mechs.extend_from_slice(MECHANISM.as_bytes());
    mechs.put_u8(0);
    mechs.put_u8(0);
    codec::auth_request(&mut out, 10, &mechs);
    send(reader, &out).await?;

    let mut body = password_message(reader).await?;
    let mechanism = body.cstr()?;
    if mechanism != MECHANISM {
        return Err(LoginFailure {
            audit_reason: format!("unsupported SASL mechanism {mechanism}"),
            client: PgError::Auth("unsupported SASL mechanism".into()),
            method: LoginMethod::Scram,
        });
    }
    let len = body.i32()?;
    let len = usize::try_from(len).map_err(|_| PgError::Protocol("missing SASL data".into()))?;
    let first = body.bytes(len)?;
    let (server, server_first) =
        ScramServer::start(verifier, &first).map_err(|e| LoginFailure::bad(e.to_string()))?;
    out.clear();
    codec::auth_request(&mut out, 11, server_first.as_bytes());
    send(reader, &out).await?;

    let body = password_message(reader).await?;
    let server_final = server
        .finish(&body.rest())
        .map_err(|e| LoginFailure::bad(e.to_string()))?;
    out.clear();
    codec::auth_request(&mut out, 12, server_final.as_bytes());
    send(reader, &out).await?;
    Ok(())
}

async fn cleartext(
    reader: &mut FrameReader<BoxIo>,
    name: &str,
    users: &Arc<UserDirectory>,
) -> Result<Actor, LoginFailure> {
    let mut out = BytesMut::new();
    codec::auth_request(&mut out, 3, &[]);
    send(reader, &out).await?;
    let mut body = password_message(reader).await?;
    let password = body.cstr()?;
    match users.authenticate(name, &password).await {
        Ok(user) => Ok(user.actor()),
        Err(e) => Err(LoginFailure {
            audit_reason: e.audit_reason(users.user(name).is_some()),
            client: PgError::Auth("password authentication failed".into()),
            method: LoginMethod::Password,
        }),
    }
}
