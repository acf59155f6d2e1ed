//! Each protocol's target options (`targets[].postgres`, `.mysql`, `.http`, `.ssh` in warden.yaml)
//! as plain data with their defaults. The front-ends read them; this module must never
//! hold behaviour beyond defaults and unit conversions.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

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
    /// The periodic upstream schema and privilege fingerprint (config-drift alerts).
    pub drift: crate::drift::DriftOptions,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_message_bytes: 64 * 1024 * 1024,
            connect_timeout_secs: 10,
            startup_timeout_secs: 30,
            database: None,
            drift: crate::drift::DriftOptions::default(),
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

/// MySQL/MariaDB-specific target options (`targets[].mysql` in warden.yaml).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MysqlOptions {
    /// Largest command a client may send (bytes, after joining 16 MiB continuation
    /// packets). Larger ones get ERR 1153 and the connection is closed.
    pub max_packet_bytes: usize,
    /// Seconds to connect and log in upstream.
    pub connect_timeout_secs: u64,
    /// Seconds a client has to finish the handshake and authentication.
    pub startup_timeout_secs: u64,
    /// Always connect to this upstream database, whatever the client asks for.
    pub database: Option<String>,
    /// The RSA private key (PEM, PKCS#8 or PKCS#1, at least 2048 bits) for
    /// `caching_sha2_password` without TLS; when unset, a key is generated at start.
    pub rsa_private_key: Option<PathBuf>,
}

impl Default for MysqlOptions {
    fn default() -> Self {
        MysqlOptions {
            max_packet_bytes: 64 * 1024 * 1024,
            connect_timeout_secs: 10,
            startup_timeout_secs: 30,
            database: None,
            rsa_private_key: None,
        }
    }
}

impl MysqlOptions {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs.max(1))
    }

    pub fn startup_timeout(&self) -> Duration {
        Duration::from_secs(self.startup_timeout_secs.max(1))
    }
}

/// HTTP/Kubernetes-specific target options (`targets[].http` in warden.yaml).
///
/// The upstream credential comes from the target's `upstream_password_env` /
/// `upstream_password_file` (sent as `Authorization: Bearer <secret>`, or Basic when
/// `upstream_user` is set); mutual TLS from `upstream_tls.client`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpOptions {
    /// Kubernetes targets: send `Impersonate-User`/`Impersonate-Group` for the Warden
    /// user so the cluster's RBAC still applies.
    pub impersonate: bool,
    /// Largest request head (request line + headers) accepted; larger → 431.
    pub max_header_bytes: usize,
    /// Largest request body forwarded; larger → 413.
    pub max_body_bytes: u64,
    /// How much of a body is read before the decision (and kept for a held request);
    /// a held request with a larger body is refused with 413.
    pub hold_body_bytes: usize,
    /// Seconds allowed for reading a request head/body prefix and for the upstream's
    /// response head (streams after that are not cut).
    pub request_timeout_secs: u64,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            impersonate: false,
            max_header_bytes: 64 * 1024,
            max_body_bytes: 1024 * 1024 * 1024,
            hold_body_bytes: 1024 * 1024,
            request_timeout_secs: 60,
        }
    }
}

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
