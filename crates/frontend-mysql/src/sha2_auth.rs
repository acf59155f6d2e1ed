//! The server side of `caching_sha2_password` for clients, with MySQL's own semantics:
//! the **fast path** checks the client's SHA-256 scramble against SHA256(SHA256(password))
//! held in memory ([`Sha2Cache`]) — which exists only after a **full authentication**
//! of that user has succeeded: the cleartext password, sent over TLS (or RSA-encrypted),
//! checked against the
//! user's stored credential (the argon2id `password_hash`, or the
//! `mysql_native_password` verifier when the user has only that). Nothing new is
//! stored in `warden.yaml`; the cache entry is tied to the stored credential it was
//! checked against, so a changed password (config reload) invalidates it.
//!
//! Without TLS, full authentication takes the password RSA-encrypted
//! ([`rsa_auth`](super::rsa_auth)).
//!
//! Must never keep a cleartext password, never accept a cleartext password without TLS,
//! and never let the cache grow without bound.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use warden_config::scram::constant_time_eq;

/// The plugin name.
pub const PLUGIN: &str = "caching_sha2_password";
/// AuthMoreData: the fast path succeeded (an OK follows).
pub const FAST_AUTH_OK: [u8; 2] = [0x01, 0x03];
/// AuthMoreData: send the password (full authentication).
pub const PERFORM_FULL_AUTH: [u8; 2] = [0x01, 0x04];

/// Most users remembered at once; past that the cache starts over (the next login of
/// each user is a full authentication again, as after a server restart).
const MAX_ENTRIES: usize = 10_000;

/// SHA256(SHA256(password)): what the fast path checks against.
pub fn stage2(password: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(password)).into()
}

/// Whether `reply` is XOR(SHA256(pw), SHA256(stage2 ‖ nonce)) for the password whose
/// SHA256(SHA256(pw)) is `stage2`.
pub fn fast_verify(stage2: &[u8; 32], nonce: &[u8], reply: &[u8]) -> bool {
    let Ok(reply) = <[u8; 32]>::try_from(reply) else {
        return false;
    };
    let mut h = Sha256::new();
    h.update(stage2);
    h.update(nonce);
    let mask = h.finalize();
    let mut stage1 = [0u8; 32];
    for (i, b) in stage1.iter_mut().enumerate() {
        *b = reply[i] ^ mask[i];
    }
    constant_time_eq(&Sha256::digest(stage1), stage2)
}

/// Users' SHA256(SHA256(password)) after a successful full authentication, each with the
/// stored credential it was checked against.
#[derive(Default)]
pub struct Sha2Cache {
    entries: Mutex<HashMap<String, (String, [u8; 32])>>,
}

impl Sha2Cache {
    /// The entry for `user` if it was made against `credential` (the user's current
    /// stored credential, as text).
    pub fn get(&self, user: &str, credential: &str) -> Option<[u8; 32]> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(user)
            .filter(|(c, _)| c == credential)
            .map(|(_, s)| *s)
    }

    pub fn put(&self, user: &str, credential: &str, stage2: [u8; 32]) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(user) {
            entries.clear();
        }
        entries.insert(user.to_owned(), (credential.to_owned(), stage2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client side as MySQL's client library computes it.
    fn client_reply(password: &[u8], nonce: &[u8]) -> Vec<u8> {
        let p1 = Sha256::digest(password);
        let mut h = Sha256::new();
        h.update(Sha256::digest(p1));
        h.update(nonce);
        let p3 = h.finalize();
        p1.iter().zip(p3.iter()).map(|(a, b)| a ^ b).collect()
    }

    #[test]
    fn fast_path_accepts_only_the_right_password() {
        let nonce = [7u8; 20];
        let s = stage2(b"secret");
        assert!(fast_verify(&s, &nonce, &client_reply(b"secret", &nonce)));
        assert!(!fast_verify(&s, &nonce, &client_reply(b"wrong", &nonce)));
        assert!(!fast_verify(
            &s,
            &[8u8; 20],
            &client_reply(b"secret", &nonce)
        ));
        assert!(!fast_verify(&s, &nonce, &[0u8; 20]));
    }

    #[test]
    fn cache_entries_are_tied_to_the_credential() {
        let c = Sha2Cache::default();
        c.put("alice", "$argon2id$one", stage2(b"a"));
        assert_eq!(c.get("alice", "$argon2id$one"), Some(stage2(b"a")));
        assert_eq!(c.get("alice", "$argon2id$two"), None);
        assert_eq!(c.get("bob", "$argon2id$one"), None);
    }
}
