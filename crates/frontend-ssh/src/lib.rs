//! SSH front-end: OpenSSH clients connect to Warden as their Warden user (public key or
//! password); every exec command, shell, subsystem and forwarding request is decided by
//! the Gate before anything reaches the upstream host, which Warden logs in to with the
//! target's own credentials after verifying its host key.
//!
//! Layout: [`hostkey`] Warden's host key · [`server`] the russh server towards clients
//! (authentication, channel requests) · [`offers`] refused public keys, audited · [`exec`] one decided channel request, relayed ·
//! [`shell`] + [`recording`] interactive sessions, recorded (asciicast v2) ·
//! [`upstream`] the russh client towards the host (host-key pinning) · [`relay`] both
//! directions of a relayed channel, with bounded buffers · [`forward`] and [`remote`]
//! port forwarding a rule allows (`-L`/`-W`, `-R`). See `docs/ssh-gateway.md`.
//!
//! Must never send a command upstream before its verdict, never run a refused or
//! not-yet-approved command, never connect to an upstream whose host key does not match,
//! and never show upstream credentials to clients. Port forwarding is decided and
//! audited, and relayed only when a rule explicitly allows it; agent, X11 and
//! streamlocal forwarding are never relayed.
//!
//! This crate depends on the Gate, the config and inspection only: it never depends on
//! another front-end, the console or the app, never builds a Gate and never opens a store.

#![forbid(unsafe_code)]

pub mod exec;
pub mod forward;
pub mod hostkey;
pub mod offers;
pub mod recording;
pub mod relay;
pub mod remote;
pub mod server;
pub mod shell;
pub mod upstream;

use std::sync::Arc;

use warden_gate::FrontendContext;
use warden_inspect::Protocol;

pub use hostkey::host_key_fingerprint;
pub use warden_config::SshOptions;

/// What can go wrong in the SSH front-end.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("ssh: {0}")]
    Ssh(#[from] russh::Error),
    #[error("ssh key: {0}")]
    Key(#[from] russh::keys::Error),
    #[error("ssh key: {0}")]
    KeyFormat(#[from] russh::keys::ssh_key::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("upstream host key refused: {0}")]
    HostKey(String),
    #[error("upstream login failed: {0}")]
    UpstreamAuth(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("timed out: {0}")]
    Timeout(&'static str),
}

/// Serves one ssh target on `listener` until `ctx.shutdown` fires.
pub async fn serve(listener: tokio::net::TcpListener, ctx: FrontendContext) -> std::io::Result<()> {
    let key = hostkey::load_or_generate(&hostkey::path_for(&ctx.target, &ctx.data_dir))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let shared = Arc::new(server::Shared::new(key, &ctx));
    warden_gate::frontend::accept_loop(listener, ctx, move |tcp, peer, ctx| {
        server::handle(tcp, peer, ctx, Arc::clone(&shared))
    })
    .await
}

warden_gate::frontend!(
    /// The SSH front-end, as the app's registry holds it.
    SshFrontend,
    [Protocol::Ssh],
    serve
);
