//! PostgreSQL front-end: psql and libpq drivers connect to Warden as their Warden user;
//! Warden logs in upstream with the target's credentials and decides every statement
//! through the Gate before the database sees it.
//!
//! Layout: [`codec`] framing and limits · [`startup`] SSL/GSSENC/cancel/startup ·
//! [`login`] + [`scram`] client authentication · [`upstream`] Warden's own login ·
//! [`session`] client → upstream with decisions · [`relay`] upstream → client streaming
//! and outcomes · [`executions`] an outcome per Execute · [`settings`] settings that
//! change how statements read · [`cancel`] cancel-key mapping · [`tls`] rustls configs ·
//! [`connection`] one connection end to end. See `docs/postgres.md`.
//!
//! Must never forward a statement before its verdict, never forward refused text, never
//! show upstream credentials to clients, and never let one malformed connection affect
//! another (each connection is its own task; errors close only that connection).
//!
//! This crate depends on the Gate, the config and inspection only: it never depends on
//! another front-end, the console or the app, never builds a Gate and never opens a store.

#![forbid(unsafe_code)]

pub mod cancel;
pub mod codec;
pub mod connection;
pub mod errors;
pub mod executions;
#[doc(hidden)]
pub mod fuzzing;
pub mod login;
pub mod relay;
pub mod scram;
pub mod session;
pub mod settings;
pub mod startup;
pub mod tls;
pub mod upstream;

use std::sync::Arc;

use warden_gate::FrontendContext;
use warden_inspect::Protocol;

pub use errors::PgError;
pub use warden_config::PostgresOptions;

/// Serves one postgres target on `listener` until `ctx.shutdown` fires (connection cap
/// and draining come from [`warden_gate::frontend::accept_loop`]).
pub async fn serve(listener: tokio::net::TcpListener, ctx: FrontendContext) -> std::io::Result<()> {
    let shared = Arc::new(connection::Shared::new(&ctx)?);
    warden_gate::frontend::accept_loop(listener, ctx, move |tcp, peer, ctx| {
        connection::handle(tcp, peer, ctx, Arc::clone(&shared))
    })
    .await
}

warden_gate::frontend!(
    /// The PostgreSQL front-end, as the app's registry holds it.
    PostgresFrontend,
    [Protocol::Postgres],
    serve
);
