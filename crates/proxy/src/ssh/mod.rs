//! SSH front-end: OpenSSH clients connect to Warden as their Warden user (public key or
//! password); every exec command, shell, subsystem and forwarding request is decided by
//! the Gate before anything reaches the upstream host, which Warden logs in to with the
//! target's own credentials after verifying its host key.
//!
//! Layout: [`hostkey`] Warden's host key · [`server`] the russh server towards clients
//! (authentication, channel requests) · [`exec`] one decided channel request, relayed ·
//! [`shell`] + [`recording`] interactive sessions, recorded (asciicast v2) ·
//! [`upstream`] the russh client towards the host (host-key pinning) · [`relay`] both
//! directions of a relayed channel, with bounded buffers · [`forward`] and [`remote`]
//! port forwarding a rule allows (`-L`/`-W`, `-R`) · [`events`] audit records. See `docs/ssh-gateway.md`.
//!
//! Must never send a command upstream before its verdict, never run a refused or
//! not-yet-approved command, never connect to an upstream whose host key does not match,
//! and never show upstream credentials to clients. Port forwarding is decided and
//! audited, and relayed only when a rule explicitly allows it; agent, X11 and
//! streamlocal forwarding are never relayed.

pub mod events;
pub mod exec;
pub mod forward;
pub mod hostkey;
pub mod recording;
pub mod relay;
pub mod remote;
pub mod server;
pub mod shell;
pub mod upstream;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::frontend::FrontendContext;

pub use hostkey::host_key_fingerprint;

/// SSH-specific target options (`targets[].ssh` in warden.yaml).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SshOptions {
    /// Warden's host key for this target (OpenSSH format); generated on first start.
    /// Default: `<data_dir>/ssh/<target>_host_ed25519`.
    pub host_key: Option<PathBuf>,
    /// OpenSSH known_hosts file holding the upstream's host key.
    pub known_hosts: Option<PathBuf>,
    /// Pinned upstream host key fingerprint (`SHA256:...`).
    pub host_key_fingerprint: Option<String>,
    /// Private key Warden logs in upstream with (else `upstream_password`).
    pub upstream_key_file: Option<PathBuf>,
    /// Seconds to connect and log in upstream (default 10).
    pub connect_timeout_secs: Option<u64>,
}

impl SshOptions {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs.unwrap_or(10).max(1))
    }
}

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
    crate::frontend::accept_loop(listener, ctx, move |tcp, peer, ctx| {
        server::handle(tcp, peer, ctx, Arc::clone(&shared))
    })
    .await
}
