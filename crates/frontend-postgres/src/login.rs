//! Client authentication: the client logs in as its Warden user with SCRAM-SHA-256
//! (against the user's stored verifier) or, only over TLS, a cleartext password checked
//! against the argon2id hash. A gateway token minted in the console is a password too:
//! its verifier shares the salt of the user's (or the person's other tokens'), so one
//! SCRAM exchange checks them all and says which matched. Per-user and per-address
//! throttling applies before any secret is looked at.
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
use warden_gate::auth::{
    is_gateway_token, LoginMethod, LoginThrottle, TokenRefusal, UserDirectory,
};

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

/// A successful login: who, how, and the gateway token's id when one was used.
#[derive(Debug)]
pub struct LoggedIn {
    pub actor: Actor,
    pub method: LoginMethod,
    pub token: Option<String>,
}

/// Authenticates `name`. On success returns the actor (roles from config, or from the
/// gateway token used) and the method: SCRAM-SHA-256 when the user has a verifier or a
/// gateway token (one exchange checks them all; unknown users get the same exchange),
/// else a cleartext password (or gateway token) over TLS.
pub async fn login(
    reader: &mut FrameReader<BoxIo>,
    name: &str,
    tls: bool,
    users: &Arc<UserDirectory>,
    throttle: &LoginThrottle,
    ip: Option<IpAddr>,
) -> Result<LoggedIn, LoginFailure> {
    // A local user without a SCRAM verifier logs in with a cleartext password over TLS
    // (a gateway token too); otherwise SCRAM against their verifier and tokens.
    let choice = if users.scram_verifier(name).is_none() && tls {
        None
    } else {
        users.scram_choice(name)
    };
    let method = if choice.is_none() && tls {
        LoginMethod::Password
    } else {
        LoginMethod::Scram
    };
    let with_method = |mut f: LoginFailure| {
        if f.method != LoginMethod::Token {
            f.method = method;
        }
        f
    };
    if let Err(t) = throttle.check(name, ip) {
        return Err(LoginFailure {
            audit_reason: t.audit_reason(),
            client: PgError::Auth(t.message()),
            method,
        });
    }
    let result = match choice {
        Some(choice) => {
            let (verifiers, ids): (Vec<_>, Vec<_>) = choice.candidates.into_iter().unzip();
            match scram_exchange(reader, verifiers).await {
                Ok((i, server_final)) => {
                    let who = match ids.get(i).cloned().flatten() {
                        None => Ok(users.user(name).map(|u| (u.actor(), None))),
                        Some(id) => users
                            .token_login(name, &id)
                            .map(|t| Some((t.user.actor(), Some(t.id))))
                            .map_err(|why| token_refused(&why)),
                    };
                    if who.is_ok() {
                        send_final(reader, &server_final).await?;
                    }
                    who
                }
                Err(f) => Err(f),
            }
        }
        None if tls => cleartext(reader, name, users).await.map(Some),
        None => {
            // Same exchange as a real user, then fail: no user-existence oracle.
            let known = users.user(name).is_some();
            let _ = scram_exchange(reader, vec![scram::dummy_verifier(name)]).await;
            Err(LoginFailure::bad(if known {
                "no SCRAM verifier configured and connection is not TLS"
            } else {
                "unknown user"
            }))
        }
    };
    match result {
        Ok(Some((actor, token))) => {
            throttle.success(name);
            let method = if token.is_some() {
                LoginMethod::Token
            } else {
                method
            };
            Ok(LoggedIn {
                actor,
                method,
                token,
            })
        }
        Ok(None) => Err(with_method(LoginFailure::bad("unknown user"))),
        Err(failure) => {
            let delay = throttle.failure(name, ip);
            tokio::time::sleep(delay.min(std::time::Duration::from_secs(5))).await;
            Err(with_method(failure))
        }
    }
}

/// A gateway token that matched but is refused (expired, revoked, its local user
/// gone): the client holds the token, so it is told why.
fn token_refused(why: &TokenRefusal) -> LoginFailure {
    LoginFailure {
        audit_reason: why.to_string(),
        client: PgError::Auth(format!("password authentication failed: {why}")),
        method: LoginMethod::Token,
    }
}

/// Runs SCRAM against `verifiers` (one salt); returns the index of the one the proof
/// matched and the server-final message, not yet sent.
async fn scram_exchange(
    reader: &mut FrameReader<BoxIo>,
    verifiers: Vec<warden_gate::auth::ScramVerifier>,
) -> Result<(usize, String), LoginFailure> {
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
        ScramServer::start_any(verifiers, &first).map_err(|e| LoginFailure::bad(e.to_string()))?;
    out.clear();
    codec::auth_request(&mut out, 11, server_first.as_bytes());
    send(reader, &out).await?;

    let body = password_message(reader).await?;
    let (server_final, i) = server
        .finish_any(&body.rest())
        .map_err(|e| LoginFailure::bad(e.to_string()))?;
    Ok((i, server_final))
}

async fn send_final(reader: &mut FrameReader<BoxIo>, server_final: &str) -> Result<(), PgError> {
    let mut out = BytesMut::new();
    codec::auth_request(&mut out, 12, server_final.as_bytes());
    send(reader, &out).await
}

async fn cleartext(
    reader: &mut FrameReader<BoxIo>,
    name: &str,
    users: &Arc<UserDirectory>,
) -> Result<(Actor, Option<String>), LoginFailure> {
    let mut out = BytesMut::new();
    codec::auth_request(&mut out, 3, &[]);
    send(reader, &out).await?;
    let mut body = password_message(reader).await?;
    let password = body.cstr()?;
    if is_gateway_token(&password) {
        return match users.gateway_token(&password, Some(name)) {
            Ok(t) => Ok((t.user.actor(), Some(t.id))),
            Err(TokenRefusal::Unknown) => Err(LoginFailure {
                audit_reason: TokenRefusal::Unknown.to_string(),
                client: PgError::Auth("password authentication failed".into()),
                method: LoginMethod::Token,
            }),
            Err(why) => Err(token_refused(&why)),
        };
    }
    match users.authenticate(name, &password).await {
        Ok(user) => Ok((user.actor(), None)),
        Err(e) => Err(LoginFailure {
            audit_reason: e.audit_reason(users.user(name).is_some()),
            client: PgError::Auth("password authentication failed".into()),
            method: LoginMethod::Password,
        }),
    }
}
