//! PostgreSQL front-end: psql and libpq drivers connect to Warden as their Warden user;
//! Warden logs in upstream with the target's credentials and decides every statement
//! through the Gate before the database sees it.
//!
//! Layout: [`codec`] framing and limits · [`startup`] SSL/GSSENC/cancel/startup ·
//! [`login`] + [`scram`] client authentication · [`upstream`] Warden's own login ·
//! [`session`] client → upstream with decisions · [`relay`] upstream → client streaming
//! and outcomes · [`executions`] an outcome per Execute · [`cancel`] cancel-key mapping · [`tls`] rustls configs ·
//! [`connection`] one connection end to end. See `docs/postgres.md`.
//!
//! Must never forward a statement before its verdict, never forward refused text, never
//! show upstream credentials to clients, and never let one malformed connection affect
//! another (each connection is its own task; errors close only that connection).

pub mod cancel;
pub mod codec;
pub mod connection;
pub mod errors;
pub mod executions;
pub mod login;
pub mod relay;
pub mod scram;
pub mod session;
pub mod startup;
pub mod tls;
pub mod upstream;

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

pub use errors::PgError;

use crate::frontend::FrontendContext;

/// Postgres-specific target options (`targets[].postgres` in warden.yaml).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresOptions {
    /// Largest message a client may send (bytes). Larger ones close the connection.
    pub max_message_bytes: usize,
    /// Seconds to connect and log in upstream.
    pub connect_timeout_secs: u64,
    /// Seconds a client has to finish startup and authentication.
    pub startup_timeout_secs: u64,
    /// Always connect to this upstream database, whatever the client asks for.
    pub database: Option<String>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_message_bytes: 64 * 1024 * 1024,
            connect_timeout_secs: 10,
            startup_timeout_secs: 30,
            database: None,
        }
    }
}

impl PostgresOptions {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs.max(1))
    }

    pub fn startup_timeout(&self) -> Duration {
        Duration::from_secs(self.startup_timeout_secs.max(1))
    }
}

/// Serves one postgres target on `listener` until `ctx.shutdown` fires (connection cap
/// and draining come from [`crate::frontend::accept_loop`]).
pub async fn serve(listener: tokio::net::TcpListener, ctx: FrontendContext) -> std::io::Result<()> {
    let shared = Arc::new(connection::Shared::new(&ctx)?);
    crate::frontend::accept_loop(listener, ctx, move |tcp, peer, ctx| {
        connection::handle(tcp, peer, ctx, Arc::clone(&shared))
    })
    .await
}
