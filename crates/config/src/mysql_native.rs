//! `mysql_native_password` verifiers: the MySQL/MariaDB `PASSWORD()` text form,
//! `*` followed by the 40 upper-case hex digits of SHA1(SHA1(password)).
//!
//! The verifier lets the mysql front-end check a client's scrambled reply to a random
//! challenge without knowing the password (the same thing the server stores in
//! `mysql.user`). Note what it is worth: whoever reads it can log in as the user through
//! this mechanism (it is a password equivalent for `mysql_native_password`), so treat it
//! like a secret. Must never keep the password, and never show the verifier in `Debug`.

use sha1::{Digest, Sha1};

use crate::scram::constant_time_eq;

/// SHA1(SHA1(password)), as MySQL stores it for `mysql_native_password`.
#[derive(Clone, PartialEq, Eq)]
pub struct MysqlNativeVerifier {
    stage2: [u8; 20],
}

impl std::fmt::Debug for MysqlNativeVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MysqlNativeVerifier(***)")
    }
}

fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

impl MysqlNativeVerifier {
    /// Derive the verifier of `password`.
    pub fn generate(password: &str) -> MysqlNativeVerifier {
        let stage1 = sha1(&[password.as_bytes()]);
        MysqlNativeVerifier {
            stage2: sha1(&[&stage1]),
        }
    }

    /// Parse `*<40 hex digits>` (either case). `None` when malformed.
    pub fn parse(text: &str) -> Option<MysqlNativeVerifier> {
        let hex_digits = text.strip_prefix('*')?;
        let bytes = hex::decode(hex_digits).ok()?;
        let stage2 = <[u8; 20]>::try_from(bytes).ok()?;
        Some(MysqlNativeVerifier { stage2 })
    }

    /// The text form, `*` + 40 upper-case hex digits (MySQL's `PASSWORD()` output).
    pub fn to_text(&self) -> String {
        format!("*{}", hex::encode_upper(self.stage2))
    }

    /// Whether `reply` is the client's correct answer to `challenge`:
    /// reply = SHA1(pw) XOR SHA1(challenge ‖ SHA1(SHA1(pw))).
    pub fn verify(&self, challenge: &[u8], reply: &[u8]) -> bool {
        let Ok(reply) = <[u8; 20]>::try_from(reply) else {
            return false;
        };
        let mask = sha1(&[challenge, &self.stage2]);
        let mut stage1 = [0u8; 20];
        for (i, b) in stage1.iter_mut().enumerate() {
            *b = reply[i] ^ mask[i];
        }
        constant_time_eq(&sha1(&[&stage1]), &self.stage2)
    }
}

/// The client side of `mysql_native_password`: the reply to `challenge` for `password`
/// (empty for an empty password, as the protocol wants).
pub fn native_reply(password: &[u8], challenge: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let stage1 = sha1(&[password]);
    let stage2 = sha1(&[&stage1]);
    let mask = sha1(&[challenge, &stage2]);
    stage1.iter().zip(mask).map(|(a, b)| a ^ b).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_mysql_password_function() {
        // SELECT PASSWORD('secret') on MariaDB / MySQL 5.7.
        let v = MysqlNativeVerifier::generate("secret");
        assert_eq!(v.to_text(), "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7");
        assert_eq!(MysqlNativeVerifier::parse(&v.to_text()), Some(v));
        assert!(MysqlNativeVerifier::parse("14E65567").is_none());
        assert!(MysqlNativeVerifier::parse("*zz").is_none());
    }

    #[test]
    fn client_reply_verifies_only_for_the_right_password_and_challenge() {
        let v = MysqlNativeVerifier::generate("secret");
        let challenge = b"0123456789abcdefghij";
        assert!(v.verify(challenge, &native_reply(b"secret", challenge)));
        assert!(!v.verify(challenge, &native_reply(b"Secret", challenge)));
        assert!(!v.verify(b"other-challenge-1234", &native_reply(b"secret", challenge)));
        assert!(!v.verify(challenge, b""));
        assert!(!format!("{v:?}").contains("14E6"));
    }
}
