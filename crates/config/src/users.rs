//! Warden users as configured (`users:` in warden.yaml) and the format checks their
//! credentials pass at load: argon2 PHC strings, SCRAM verifiers, SSH keys, token hashes.
//!
//! Must never expose a secret through `Debug`; never verifies a password (that is the
//! Gate's user directory).

use argon2::password_hash::PasswordHash;
use sha2::{Digest, Sha256};
use warden_inspect::Actor;

use crate::mysql_native::MysqlNativeVerifier;
use crate::scram::ScramVerifier;

/// One Warden user, as configured.
#[derive(Clone)]
pub struct User {
    pub name: String,
    pub roles: Vec<String>,
    /// argon2id PHC string, when the user may log in with a password.
    pub password_hash: Option<String>,
    /// SCRAM-SHA-256 verifier for PostgreSQL SASL logins.
    pub scram: Option<ScramVerifier>,
    /// SHA1(SHA1(password)) for MySQL `mysql_native_password` logins.
    pub mysql_native: Option<MysqlNativeVerifier>,
    /// OpenSSH public keys, normalised to `type base64` (comment dropped).
    pub ssh_authorized_keys: Vec<String>,
    /// SHA-256 of each bearer token the user may present.
    pub token_hashes: Vec<[u8; 32]>,
    /// A service account (a program, not a person): `service: true` in `users:`. The
    /// access report lists sensitive actions done by accounts *without* this flag.
    pub service: bool,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl User {
    /// The user as an audit/policy actor (no client address).
    pub fn actor(&self) -> Actor {
        Actor {
            name: self.name.clone(),
            roles: self.roles.clone(),
            client_addr: None,
            alerts: Vec::new(),
        }
    }
}

/// Normalise an OpenSSH public key line to `type base64`.
pub fn normalize_ssh_key(line: &str) -> Option<String> {
    let mut parts = line.split_whitespace();
    let kind = parts.next()?;
    let body = parts.next()?;
    if !kind.starts_with("ssh-") && !kind.starts_with("ecdsa-") && !kind.starts_with("sk-") {
        return None;
    }
    Some(format!("{kind} {body}"))
}

/// SHA-256 of a bearer token.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether `phc` is a well-formed argon2 PHC string (checked at config load).
pub fn is_valid_phc(phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => h.algorithm.as_str().starts_with("argon2") && h.hash.is_some(),
        Err(_) => false,
    }
}
