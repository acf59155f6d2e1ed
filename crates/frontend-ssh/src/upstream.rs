//! The russh client towards the upstream host: connect, verify the host key against the
//! pinned fingerprint or a known_hosts file, and log in with the target's injected
//! credentials (`ssh.upstream_key_file`, else `upstream_password`).
//!
//! Must never log in to a host whose key is unknown or does not match (no
//! trust-on-first-use), and never show the upstream credentials to anyone.

use std::sync::{Arc, Mutex};

use russh::client::{self, AuthResult, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKey};

use super::SshError;
use warden_config::TargetConfig;

/// Checks the upstream's host key; remembers why it refused.
pub struct Verifier {
    host: String,
    port: u16,
    target: Arc<TargetConfig>,
    refused: Arc<Mutex<Option<String>>>,
}

impl Verifier {
    fn check(&self, key: &PublicKey) -> Result<(), String> {
        let seen = key.fingerprint(HashAlg::Sha256).to_string();
        let opts = &self.target.ssh;
        if let Some(pin) = &opts.host_key_fingerprint {
            return if pin.trim() == seen {
                Ok(())
            } else {
                Err(format!(
                    "upstream host key {seen} does not match the pinned fingerprint {}",
                    pin.trim()
                ))
            };
        }
        if let Some(path) = &opts.known_hosts {
            return match russh::keys::check_known_hosts_path(&self.host, self.port, key, path) {
                Ok(true) => Ok(()),
                Ok(false) => Err(format!(
                    "upstream host key {seen} is not in {}",
                    path.display()
                )),
                Err(e) => Err(format!(
                    "upstream host key {seen} does not match {}: {e}",
                    path.display()
                )),
            };
        }
        Err(format!(
            "no known_hosts or host_key_fingerprint configured; upstream key {seen} not trusted"
        ))
    }
}

impl client::Handler for Verifier {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKey) -> Result<bool, Self::Error> {
        match self.check(key) {
            Ok(()) => Ok(true),
            Err(why) => {
                tracing::warn!(target = %self.target.name, "{why}");
                if let Ok(mut slot) = self.refused.lock() {
                    *slot = Some(why);
                }
                Ok(false)
            }
        }
    }
}

fn split_host_port(upstream: &str) -> Result<(String, u16), SshError> {
    let (host, port) = match upstream.rsplit_once(':') {
        Some((h, p)) => (
            h.trim_start_matches('[').trim_end_matches(']'),
            p.parse::<u16>()
                .map_err(|_| SshError::Config(format!("bad upstream port in {upstream}")))?,
        ),
        None => (upstream, 22),
    };
    Ok((host.to_owned(), port))
}

/// Connect and log in upstream, bounded by the target's connect timeout.
pub async fn connect(target: &Arc<TargetConfig>) -> Result<Handle<Verifier>, SshError> {
    connect_with(target, |v| v).await
}

/// [`connect`] with a handler that wraps the [`Verifier`] (and must ask it about the
/// host key) to also take requests the upstream sends, e.g. forwarded connections.
pub async fn connect_with<H>(
    target: &Arc<TargetConfig>,
    wrap: impl FnOnce(Verifier) -> H,
) -> Result<Handle<H>, SshError>
where
    H: client::Handler<Error = russh::Error> + Send + 'static,
{
    tokio::time::timeout(target.ssh.connect_timeout(), connect_inner(target, wrap))
        .await
        .map_err(|_| SshError::Timeout("connecting upstream"))?
}

async fn connect_inner<H>(
    target: &Arc<TargetConfig>,
    wrap: impl FnOnce(Verifier) -> H,
) -> Result<Handle<H>, SshError>
where
    H: client::Handler<Error = russh::Error> + Send + 'static,
{
    let (host, port) = split_host_port(&target.upstream)?;
    let refused = Arc::new(Mutex::new(None));
    let verifier = Verifier {
        host: host.clone(),
        port,
        target: Arc::clone(target),
        refused: Arc::clone(&refused),
    };
    let config = Arc::new(client::Config {
        inactivity_timeout: None,
        channel_buffer_size: super::relay::CHANNEL_QUEUE,
        ..client::Config::default()
    });
    let mut handle = match client::connect(config, (host.as_str(), port), wrap(verifier)).await {
        Ok(h) => h,
        Err(e) => {
            let why = refused.lock().ok().and_then(|mut s| s.take());
            return Err(match why {
                Some(why) => SshError::HostKey(why),
                None => SshError::Ssh(e),
            });
        }
    };
    let user = target
        .upstream_user
        .clone()
        .unwrap_or_else(|| "root".into());
    let result = if let Some(path) = &target.ssh.upstream_key_file {
        let key = russh::keys::load_secret_key(path, None)?;
        let hash = handle.best_supported_rsa_hash().await?.flatten();
        handle
            .authenticate_publickey(&user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
            .await?
    } else if let Some(pw) = &target.upstream_password {
        handle.authenticate_password(&user, pw.expose()).await?
    } else {
        return Err(SshError::Config(
            "no upstream credential (ssh.upstream_key_file or upstream_password_env)".into(),
        ));
    };
    match result {
        AuthResult::Success => Ok(handle),
        AuthResult::Failure { .. } => Err(SshError::UpstreamAuth(format!(
            "the upstream refused Warden's credentials for {user}"
        ))),
    }
}
