//! The RSA key exchange of `caching_sha2_password` full authentication without TLS, as
//! MySQL does it: Warden holds an RSA key pair (`mysql.rsa_private_key` of the target,
//! PEM, or one generated when the process starts); a client without the public key asks
//! for it (a single byte `0x02`) and gets it as PEM (`SubjectPublicKeyInfo`) in an
//! AuthMoreData packet; the client sends RSA-OAEP(SHA-1, MGF1-SHA-1) of its password
//! (NUL-terminated) XORed with the greeting's 20-byte challenge, which Warden decrypts
//! (RSA blinding on) and XORs back. The challenge in the plaintext binds the ciphertext
//! to this connection's greeting: a recorded one does not work on another connection.
//!
//! Crypto is the RustCrypto `rsa` crate; nothing is hand-rolled here but the XOR.
//!
//! Must never accept anything but a ciphertext for this key as the password on a
//! connection without TLS (a cleartext password there fails to decrypt), never log a
//! decrypted password, and never accept a key shorter than 2048 bits.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, RsaPrivateKey};
use sha1::Sha1;

/// The byte a client sends to ask for the server's public key.
pub const REQUEST_PUBLIC_KEY: u8 = 0x02;
/// Bits of a generated key, and the fewest a configured key may have.
const BITS: usize = 2048;

/// The key pair used for `caching_sha2_password` without TLS.
pub struct RsaKeys {
    private: RsaPrivateKey,
    /// The public key as a client reads it (PEM, SubjectPublicKeyInfo).
    public_pem: String,
}

impl std::fmt::Debug for RsaKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKeys")
            .field("bits", &(self.private.size() * 8))
            .finish_non_exhaustive()
    }
}

impl RsaKeys {
    fn from_private(private: RsaPrivateKey) -> Result<RsaKeys, String> {
        if private.size() * 8 < BITS {
            return Err(format!(
                "the RSA key has {} bits; at least {BITS} are needed",
                private.size() * 8
            ));
        }
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| format!("cannot encode the RSA public key: {e}"))?;
        Ok(RsaKeys {
            private,
            public_pem,
        })
    }

    /// A new 2048-bit key (takes a moment: call it off the async workers).
    pub fn generate() -> Result<RsaKeys, String> {
        let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, BITS)
            .map_err(|e| format!("cannot generate an RSA key: {e}"))?;
        Self::from_private(private)
    }

    /// The key generated once for this process (every listener without a configured key
    /// shares it; it is never written anywhere).
    pub fn process_key() -> Result<Arc<RsaKeys>, String> {
        static KEY: OnceLock<Result<Arc<RsaKeys>, String>> = OnceLock::new();
        KEY.get_or_init(|| Self::generate().map(Arc::new)).clone()
    }

    /// A private key from PEM text: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA
    /// PRIVATE KEY`), unencrypted, at least 2048 bits.
    pub fn from_pem(pem: &str) -> Result<RsaKeys, String> {
        let private = RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
            .map_err(|_| {
                "not an unencrypted RSA private key in PEM (PKCS#8 or PKCS#1)".to_owned()
            })?;
        Self::from_private(private)
    }

    /// [`from_pem`](Self::from_pem) of a file.
    pub fn load(path: &Path) -> Result<RsaKeys, String> {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the RSA key {}: {e}", path.display()))?;
        Self::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    /// The password in a client's encrypted reply for the connection whose greeting
    /// carried `challenge`; `None` when it does not decrypt with this key.
    pub fn decrypt_password(&self, ciphertext: &[u8], challenge: &[u8; 20]) -> Option<Vec<u8>> {
        if ciphertext.len() != self.private.size() {
            return None;
        }
        let mut plain = self
            .private
            .decrypt_blinded(&mut rand::rngs::OsRng, Oaep::new::<Sha1>(), ciphertext)
            .ok()?;
        for (i, b) in plain.iter_mut().enumerate() {
            *b ^= challenge[i % challenge.len()];
        }
        if plain.last() == Some(&0) {
            plain.pop();
        }
        Some(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::DecodePublicKey;
    use rsa::RsaPublicKey;

    /// The client side as MySQL clients compute it.
    fn client_reply(pem: &str, password: &[u8], challenge: &[u8; 20]) -> Vec<u8> {
        let public = RsaPublicKey::from_public_key_pem(pem).expect("public pem");
        let mut plain = password.to_vec();
        plain.push(0);
        for (i, b) in plain.iter_mut().enumerate() {
            *b ^= challenge[i % 20];
        }
        public
            .encrypt(&mut rand::rngs::OsRng, Oaep::new::<Sha1>(), &plain)
            .expect("encrypt")
    }

    #[test]
    fn decrypts_what_a_client_encrypts_for_its_challenge_only() {
        let keys = RsaKeys::process_key().expect("key");
        assert!(keys
            .public_pem()
            .starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let challenge = [9u8; 20];
        let reply = client_reply(
            keys.public_pem(),
            b"a password longer than twenty bytes",
            &challenge,
        );
        assert_eq!(
            keys.decrypt_password(&reply, &challenge).as_deref(),
            Some(&b"a password longer than twenty bytes"[..])
        );
        // another connection's challenge gives another (wrong) password
        assert_ne!(
            keys.decrypt_password(&reply, &[1u8; 20]).as_deref(),
            Some(&b"a password longer than twenty bytes"[..])
        );
        // a cleartext password, or garbage of the right length, does not decrypt
        assert_eq!(keys.decrypt_password(b"secret\0", &challenge), None);
        assert_eq!(keys.decrypt_password(&[7u8; 256], &challenge), None);
    }

    #[test]
    fn configured_keys_are_read_from_pem_and_checked() {
        use rsa::pkcs8::EncodePrivateKey;
        let keys = RsaKeys::process_key().expect("key");
        let pem = keys
            .private
            .to_pkcs8_pem(LineEnding::LF)
            .expect("pkcs8 pem");
        let again = RsaKeys::from_pem(&pem).expect("pkcs8");
        assert_eq!(again.public_pem(), keys.public_pem());
        assert!(RsaKeys::from_pem(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        )
        .is_err());
        let small = RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).expect("small key");
        let err = RsaKeys::from_private(small).expect_err("too short");
        assert!(err.contains("1024 bits"), "{err}");
    }
}
