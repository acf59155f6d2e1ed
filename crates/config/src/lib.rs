//! # warden-config
//!
//! The `warden.yaml` configuration: load, validate into a typed [`Config`], report every
//! mistake at once with file:line:column and the key. Every protocol's target options
//! ([`options`]) and the user records ([`users`], [`scram`]) are plain data here.
//!
//! Loading reads secrets named by the file (`upstream_password_env`,
//! `upstream_password_file`) into [`Secret`]s, whose `Debug` never prints them. This
//! module must never log or return a secret in a diagnostic, and must never hand out a
//! `Config` that failed any check: the gateway does not start half-configured. It never
//! starts anything either: no tokio, no sockets, no front-end, no runtime.

#![forbid(unsafe_code)]

mod build;
pub mod drift;
pub mod fleet;
#[doc(hidden)]
pub mod fuzzing;
pub mod gateway_tokens;
pub mod mysql_native;
pub mod oidc;
pub mod options;
mod protocols;
pub mod raw;
mod schema;
pub mod scram;
mod targets;
pub mod users;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use warden_inspect::{Protocol, TargetRef};

pub use drift::{DriftOptions, PolicyChanges, PolicyReview};
pub use fleet::FleetConfig;
pub use gateway_tokens::GatewayTokenSettings;
pub use mysql_native::MysqlNativeVerifier;
pub use oidc::OidcConfig;
pub use options::{HttpOptions, MysqlOptions, PostgresOptions, SshOptions};
pub use protocols::protocol_supported;
pub use scram::ScramVerifier;
pub use users::User;
pub use warden_diagnostic::{parse_duration, Pos};

/// A secret read from the environment or a file. `Debug`/`Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The secret itself: only for handing it to the upstream, never for logs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Certificate and key files (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// How Warden connects to an upstream over TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamTls {
    /// CA bundle to trust (system roots when absent).
    pub ca: Option<PathBuf>,
    /// Client certificate and key, for mutual TLS.
    pub client: Option<TlsFiles>,
    pub server_name: Option<String>,
}

/// `web:` — the console and JSON API.
#[derive(Debug, Clone)]
pub struct WebConfig {
    pub listen: SocketAddr,
    /// Without a trailing slash; used in links sent to clients and webhooks.
    pub public_url: String,
    pub tls: Option<TlsFiles>,
}

/// `audit:` — where the hash chain lives.
#[derive(Debug, Clone)]
pub struct AuditPaths {
    pub path: PathBuf,
    pub signing_key: PathBuf,
    pub checkpoint_file: Option<PathBuf>,
    /// The audit store's page cache in MiB (`audit.cache_mb`).
    pub cache_mb: u64,
}

/// `audit.cache_mb` when the key is absent.
pub const DEFAULT_AUDIT_CACHE_MB: u64 = 64;

/// One `targets:` entry, validated.
#[derive(Debug, Clone)]
pub struct TargetConfig {
    pub name: String,
    pub protocol: Protocol,
    pub listen: SocketAddr,
    /// As written (`host:port`, or a URL for http targets); protocol modules parse it.
    pub upstream: String,
    pub labels: BTreeMap<String, String>,
    pub upstream_user: Option<String>,
    pub upstream_password: Option<Secret>,
    /// Client-facing TLS.
    pub tls: Option<TlsFiles>,
    pub upstream_tls: Option<UpstreamTls>,
    /// Concurrent client connections accepted (further ones are refused).
    pub max_connections: usize,
    pub postgres: PostgresOptions,
    pub mysql: MysqlOptions,
    pub http: HttpOptions,
    pub ssh: SshOptions,
}

impl TargetConfig {
    /// The target as policy and audit see it.
    pub fn target_ref(&self) -> TargetRef {
        TargetRef {
            name: self.name.clone(),
            labels: self.labels.clone(),
        }
    }
}

/// One `notifications:` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationConfig {
    pub webhook: String,
    /// Any of `hold`, `decision`, `deny`, `alert`.
    pub on: Vec<String>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was loaded from (empty for in-memory configs).
    pub file: PathBuf,
    /// The folder relative paths were resolved against.
    pub base_dir: PathBuf,
    pub web: WebConfig,
    pub audit: AuditPaths,
    /// Policy files or folders, resolved.
    pub policies: Vec<PathBuf>,
    pub users: Vec<User>,
    pub targets: Vec<Arc<TargetConfig>>,
    pub notifications: Vec<NotificationConfig>,
    /// Host keys, session recordings, approvals store.
    pub data_dir: PathBuf,
    /// How long `serve` waits for open connections on shutdown.
    pub shutdown_grace: Duration,
    /// `analytics:` — behaviour baselines, detectors and their locks (docs/analytics.md).
    pub analytics: warden_analytics::Settings,
    /// `policy_changes:` — what an unreviewed policy edit on disk does.
    pub policy_changes: PolicyChanges,
    /// `policy_review:` — who approves `warden policy propose`.
    pub policy_review: PolicyReview,
    /// `fleet:` — approvals shared with other replicas in PostgreSQL (docs/fleet.md);
    /// `None`: embedded on sled.
    pub fleet: Option<FleetConfig>,
    /// `oidc:` — console sign-in through an OpenID Connect provider
    /// (docs/operations.md); `None`: local users only.
    pub oidc: Option<OidcConfig>,
    /// `gateway_tokens:` — short-lived tokens minted in the console for the gateways
    /// (defaults when absent).
    pub gateway_tokens: GatewayTokenSettings,
}

/// One configuration mistake (the diagnostic type policy files use too).
pub type ConfigDiagnostic = warden_diagnostic::Diagnostic;

/// Every mistake found in a config file, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigDiagnostic>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        warden_diagnostic::write_all(f, &self.0)
    }
}

impl Config {
    /// Read and validate `path`. Relative paths inside resolve against its folder.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigDiagnostic {
                file: shown.clone(),
                line: 0,
                column: 0,
                key: String::new(),
                message: format!("cannot read config file: {e}"),
                suggestion: None,
            }])
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut cfg = Config::parse(&text, &shown, &base)?;
        cfg.file = path.to_path_buf();
        Ok(cfg)
    }

    /// Validate config text; `file` names it in diagnostics, `base_dir` anchors paths.
    pub fn parse(text: &str, file: &str, base_dir: &Path) -> Result<Config, ConfigErrors> {
        build::build(text, file, base_dir)
    }

    pub fn target(&self, name: &str) -> Option<&Arc<TargetConfig>> {
        self.targets.iter().find(|t| t.name == name)
    }
}

#[cfg(test)]
mod tests;
