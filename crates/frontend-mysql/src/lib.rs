//! MySQL / MariaDB front-end: the `mariadb`/`mysql` clients and MySQL drivers connect to
//! Warden as their Warden user (`caching_sha2_password` or `mysql_native_password`,
//! optionally over TLS); Warden logs in upstream with
//! the target's credentials and decides every statement through the Gate before the
//! database sees it.
//!
//! Layout: [`packet`] framing, limits, sequence ids · [`wire`] constants and the small
//! encodings (ERR/OK, length-encoded integers) · [`handshake`] the v10 greeting and the
//! client's HandshakeResponse41 · [`greet`] the greeting phase, TLS after an SSLRequest
//! ([`tls`]) · [`login`] client authentication ([`sha2_auth`] for
//! `caching_sha2_password`, [`rsa_auth`] its RSA key exchange without TLS) · [`upstream`]
//! Warden's own login upstream (over TLS with `upstream_tls:`) · [`lexing`] text checks made before inspection (things
//! the server would read differently from the inspector) · [`prepare_from`] the
//! statement inside `PREPARE name FROM '...'`, decided · [`named`] what a later
//! `EXECUTE name` runs · [`command`] one client
//! command → what to do with it · [`decision`] the Gate's answers as ERR packets, holds ·
//! [`session`] the command loop with decisions ·
//! [`relay`] upstream responses back to the client with outcomes · [`prepared`]
//! prepared statements, each execute decided with its bound values · [`params`] the
//! bound values of an execute, shown as SQL literals · [`connection`] one connection end to
//! end. See `docs/mysql.md`.
//!
//! Must never forward a statement before its verdict, never forward refused text, never
//! show upstream credentials to clients, never offer `CLIENT_LOCAL_FILES`, and never let
//! one malformed connection affect another (each connection is its own task; errors
//! close only that connection).
//!
//! This crate depends on the Gate, the config and inspection only: it never depends on
//! another front-end, the console or the app, never builds a Gate and never opens a store.

#![forbid(unsafe_code)]

pub mod command;
pub mod connection;
pub mod decision;
pub mod errors;
#[doc(hidden)]
pub mod fuzzing;
pub mod greet;
pub mod handshake;
pub mod lexing;
pub mod login;
pub mod named;
pub mod packet;
pub mod params;
pub mod prepare_from;
pub mod prepared;
pub mod relay;
pub mod rsa_auth;
pub mod session;
pub mod sha2_auth;
pub mod tls;
pub mod upstream;
pub mod wire;

use std::sync::Arc;

use warden_gate::FrontendContext;
use warden_inspect::Protocol;

pub use errors::MyError;
pub use warden_config::MysqlOptions;

/// Serves one mysql target on `listener` until `ctx.shutdown` fires (connection cap and
/// draining come from [`warden_gate::frontend::accept_loop`]).
pub async fn serve(listener: tokio::net::TcpListener, ctx: FrontendContext) -> std::io::Result<()> {
    let rsa = rsa_key(&ctx).await?;
    let shared = Arc::new(connection::Shared::new(&ctx, rsa)?);
    warden_gate::frontend::accept_loop(listener, ctx, move |tcp, peer, ctx| {
        connection::handle(tcp, peer, ctx, Arc::clone(&shared))
    })
    .await
}

/// The target's `mysql.rsa_private_key`, or the key generated for this process (off the
/// async workers: generating takes a moment).
async fn rsa_key(ctx: &FrontendContext) -> std::io::Result<Arc<rsa_auth::RsaKeys>> {
    let path = ctx.target.mysql.rsa_private_key.clone();
    let key = tokio::task::spawn_blocking(move || match path {
        Some(path) => rsa_auth::RsaKeys::load(&path).map(Arc::new),
        None => rsa_auth::RsaKeys::process_key(),
    })
    .await
    .map_err(std::io::Error::other)?;
    key.map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
}

warden_gate::frontend!(
    /// The MySQL / MariaDB front-end, as the app's registry holds it.
    MysqlFrontend,
    [Protocol::Mysql],
    serve
);
