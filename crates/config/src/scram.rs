//! SCRAM-SHA-256 verifiers (RFC 5802 / RFC 7677) in the format PostgreSQL stores:
//! `SCRAM-SHA-256$<iterations>:<salt base64>$<StoredKey base64>:<ServerKey base64>`.
//!
//! A verifier lets the postgres front-end check a client's SCRAM proof and prove itself
//! back without knowing the password. The password is taken as given (no SASLprep), which
//! equals SASLprep for ASCII passwords — the only kind `warden hash-password` recommends.
//! Must never keep the password or the salted password around.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The iteration count PostgreSQL uses by default.
pub const DEFAULT_ITERATIONS: u32 = 4096;

type HmacSha256 = Hmac<Sha256>;

/// A parsed SCRAM-SHA-256 verifier.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramVerifier {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub stored_key: [u8; 32],
    pub server_key: [u8; 32],
}

impl std::fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScramVerifier(***)")
    }
}

impl ScramVerifier {
    /// Derive a verifier from a password with a fresh 16-byte random salt.
    pub fn generate(password: &str) -> ScramVerifier {
        let mut salt = vec![0u8; 16];
        rand::thread_rng().fill_bytes(&mut salt);
        ScramVerifier::derive(password, &salt, DEFAULT_ITERATIONS)
    }

    /// Derive a verifier from a password, salt and iteration count.
    pub fn derive(password: &str, salt: &[u8], iterations: u32) -> ScramVerifier {
        let salted = salted_password(password.as_bytes(), salt, iterations);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key: [u8; 32] = Sha256::digest(client_key).into();
        let server_key = hmac(&salted, b"Server Key");
        ScramVerifier {
            iterations,
            salt: salt.to_vec(),
            stored_key,
            server_key,
        }
    }

    /// Parse PostgreSQL's text form. `None` when malformed.
    pub fn parse(text: &str) -> Option<ScramVerifier> {
        let rest = text.strip_prefix("SCRAM-SHA-256$")?;
        let (iter_salt, keys) = rest.split_once('$')?;
        let (iter, salt) = iter_salt.split_once(':')?;
        let (stored, server) = keys.split_once(':')?;
        let iterations: u32 = iter.parse().ok().filter(|i| *i > 0)?;
        let salt = B64.decode(salt).ok().filter(|s| !s.is_empty())?;
        let stored_key: [u8; 32] = B64.decode(stored).ok()?.try_into().ok()?;
        let server_key: [u8; 32] = B64.decode(server).ok()?.try_into().ok()?;
        Some(ScramVerifier {
            iterations,
            salt,
            stored_key,
            server_key,
        })
    }

    /// PostgreSQL's text form.
    pub fn to_text(&self) -> String {
        format!(
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(self.stored_key),
            B64.encode(self.server_key)
        )
    }

    /// Check a client proof: `ClientSignature = HMAC(StoredKey, AuthMessage)`,
    /// `ClientKey = proof XOR ClientSignature`, and `SHA256(ClientKey) == StoredKey`.
    pub fn verify_client_proof(&self, auth_message: &[u8], proof: &[u8]) -> bool {
        if proof.len() != 32 {
            return false;
        }
        let signature = hmac(&self.stored_key, auth_message);
        let mut client_key = [0u8; 32];
        for (i, b) in client_key.iter_mut().enumerate() {
            *b = proof[i] ^ signature[i];
        }
        let computed: [u8; 32] = Sha256::digest(client_key).into();
        constant_time_eq(&computed, &self.stored_key)
    }

    /// `ServerSignature = HMAC(ServerKey, AuthMessage)`, sent in the server-final message.
    pub fn server_signature(&self, auth_message: &[u8]) -> [u8; 32] {
        hmac(&self.server_key, auth_message)
    }
}

/// Equality whose time depends only on the length.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    #[allow(clippy::expect_used)]
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Produced by PostgreSQL 15 for password `pencil` (`CREATE ROLE .. PASSWORD 'pencil'`
    /// with `password_encryption = scram-sha-256`).
    const PG_PENCIL: &str = "SCRAM-SHA-256$4096:1fMYWg82zvluGatW2UbKPQ==$Iy7qHoydTiEstz2RVtgoUUXTmkrmuSEychPnEcATi6Y=:NIUdOtqW6UZC+1i7QaJ0oK0oq4nXGUEMtijh3DX07V8=";

    #[test]
    fn matches_postgresql() {
        let pg = ScramVerifier::parse(PG_PENCIL).expect("parse");
        let ours = ScramVerifier::derive("pencil", &pg.salt, pg.iterations);
        assert_eq!(ours, pg);
        assert_eq!(ours.to_text(), PG_PENCIL);
        let wrong = ScramVerifier::derive("pencil!", &pg.salt, pg.iterations);
        assert_ne!(wrong, pg);
    }

    #[test]
    fn client_proof_round_trip() {
        let v = ScramVerifier::generate("s3cret");
        let parsed = ScramVerifier::parse(&v.to_text()).expect("parse");
        assert_eq!(parsed, v);
        // Client side of the exchange, computed from the password.
        let salted = salted_password(b"s3cret", &v.salt, v.iterations);
        let client_key = hmac(&salted, b"Client Key");
        let auth = b"n=,r=abc,r=abcdef,s=xyz,i=4096,c=biws,r=abcdef";
        let sig = hmac(&v.stored_key, auth);
        let proof: Vec<u8> = client_key.iter().zip(sig).map(|(a, b)| a ^ b).collect();
        assert!(v.verify_client_proof(auth, &proof));
        let mut bad = proof.clone();
        bad[0] ^= 1;
        assert!(!v.verify_client_proof(auth, &bad));
        assert!(!v.verify_client_proof(auth, &proof[..31]));
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "md5abc",
            "SCRAM-SHA-256$0:AAAA$AAAA:AAAA",
            "SCRAM-SHA-256$4096:@@@$x:y",
            "SCRAM-SHA-256$4096:AAAA$AAAA:AAAA",
        ] {
            assert!(ScramVerifier::parse(s).is_none(), "{s}");
        }
    }
}
