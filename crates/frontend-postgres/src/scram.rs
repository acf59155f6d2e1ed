//! The server side of SCRAM-SHA-256 (RFC 5802 / RFC 7677) as PostgreSQL speaks it,
//! checked against a stored verifier (StoredKey/ServerKey), never a password.
//!
//! Pure state machine, no I/O: `startup.rs` moves the messages. It must never accept a
//! proof it did not verify, and must behave the same for unknown users (the caller passes
//! a dummy verifier and fails at the end).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use warden_gate::auth::ScramVerifier;

pub const MECHANISM: &str = "SCRAM-SHA-256";

type HmacSha256 = Hmac<Sha256>;

/// Why a SCRAM exchange failed (audited; the client only learns "authentication failed").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramFailure {
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    #[error("channel binding requested but not offered")]
    ChannelBinding,
    #[error("wrong password")]
    BadProof,
}

/// One exchange in progress, after the server-first message was produced.
pub struct ScramServer {
    /// Candidates sharing one salt and iteration count (a user's password and their
    /// gateway tokens); the first's salt is the one offered.
    verifiers: Vec<ScramVerifier>,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl ScramServer {
    /// Handles the client-first message; returns the exchange and the server-first message.
    pub fn start(
        verifier: ScramVerifier,
        client_first: &[u8],
    ) -> Result<(ScramServer, String), ScramFailure> {
        ScramServer::start_any(vec![verifier], client_first)
    }

    /// Like [`start`](Self::start) with several verifiers of the same salt and
    /// iterations (others are never matched); [`finish_any`](Self::finish_any) says
    /// which one the proof matched.
    pub fn start_any(
        verifiers: Vec<ScramVerifier>,
        client_first: &[u8],
    ) -> Result<(ScramServer, String), ScramFailure> {
        let first = verifiers
            .first()
            .ok_or(ScramFailure::Malformed("no verifier"))?;
        let (salt, iterations) = (first.salt.clone(), first.iterations);
        let verifiers: Vec<ScramVerifier> = verifiers
            .into_iter()
            .map(|v| {
                if v.salt == salt && v.iterations == iterations {
                    v
                } else {
                    // Never matched: a proof is computed with the offered salt.
                    dummy_verifier("")
                }
            })
            .collect();
        let text =
            std::str::from_utf8(client_first).map_err(|_| ScramFailure::Malformed("utf-8"))?;
        let mut parts = text.splitn(3, ',');
        let cbind = parts.next().ok_or(ScramFailure::Malformed("gs2 header"))?;
        let authzid = parts.next().ok_or(ScramFailure::Malformed("gs2 header"))?;
        let bare = parts.next().ok_or(ScramFailure::Malformed("gs2 header"))?;
        match cbind {
            "n" | "y" => {}
            c if c.starts_with("p=") => return Err(ScramFailure::ChannelBinding),
            _ => return Err(ScramFailure::Malformed("channel binding flag")),
        }
        if !authzid.is_empty() && !authzid.starts_with("a=") {
            return Err(ScramFailure::Malformed("authzid"));
        }
        let mut client_nonce = None;
        for attr in bare.split(',') {
            match attr.split_once('=') {
                Some(("n", _)) => {} // PostgreSQL ignores the SCRAM user name
                Some(("r", n))
                    if !n.is_empty()
                        && n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',') =>
                {
                    client_nonce = Some(n)
                }
                Some(("m", _)) => return Err(ScramFailure::Malformed("unsupported extension")),
                _ => return Err(ScramFailure::Malformed("client-first attribute")),
            }
        }
        let client_nonce = client_nonce.ok_or(ScramFailure::Malformed("missing nonce"))?;
        let mut raw = [0u8; 18];
        rand::thread_rng().fill_bytes(&mut raw);
        let nonce = format!("{client_nonce}{}", B64.encode(raw));
        let server_first = format!("r={nonce},s={},i={}", B64.encode(&salt), iterations);
        let gs2_header = format!("{cbind},{authzid},");
        Ok((
            ScramServer {
                verifiers,
                gs2_header,
                client_first_bare: bare.to_owned(),
                server_first: server_first.clone(),
                nonce,
            },
            server_first,
        ))
    }

    /// Checks the client-final message; on success returns the server-final message.
    pub fn finish(self, client_final: &[u8]) -> Result<String, ScramFailure> {
        self.finish_any(client_final)
            .map(|(server_final, _)| server_final)
    }

    /// [`finish`](Self::finish), also saying which verifier (its index) the proof
    /// matched. Every candidate is checked, whichever matches.
    pub fn finish_any(self, client_final: &[u8]) -> Result<(String, usize), ScramFailure> {
        let text =
            std::str::from_utf8(client_final).map_err(|_| ScramFailure::Malformed("utf-8"))?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or(ScramFailure::Malformed("missing proof"))?;
        let mut binding = None;
        let mut nonce = None;
        for attr in without_proof.split(',') {
            match attr.split_once('=') {
                Some(("c", v)) => binding = Some(v),
                Some(("r", v)) => nonce = Some(v),
                _ => return Err(ScramFailure::Malformed("client-final attribute")),
            }
        }
        let binding = B64
            .decode(binding.ok_or(ScramFailure::Malformed("missing binding"))?)
            .map_err(|_| ScramFailure::Malformed("binding base64"))?;
        if binding != self.gs2_header.as_bytes() {
            return Err(ScramFailure::Malformed("channel binding mismatch"));
        }
        if nonce != Some(self.nonce.as_str()) {
            return Err(ScramFailure::Malformed("nonce mismatch"));
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| ScramFailure::Malformed("proof base64"))?;
        if proof.len() != 32 {
            return Err(ScramFailure::Malformed("proof length"));
        }
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let mut matched = None;
        for (i, verifier) in self.verifiers.iter().enumerate() {
            let client_signature = hmac(&verifier.stored_key, auth_message.as_bytes());
            let client_key: Vec<u8> = proof
                .iter()
                .zip(client_signature)
                .map(|(p, s)| p ^ s)
                .collect();
            let stored: [u8; 32] = Sha256::digest(&client_key).into();
            if constant_time_eq(&stored, &verifier.stored_key) && matched.is_none() {
                matched = Some(i);
            }
        }
        let i = matched.ok_or(ScramFailure::BadProof)?;
        let server_signature = hmac(&self.verifiers[i].server_key, auth_message.as_bytes());
        Ok((format!("v={}", B64.encode(server_signature)), i))
    }
}

/// A verifier for users who have none, so the exchange looks the same and then fails.
pub fn dummy_verifier(user: &str) -> ScramVerifier {
    let salt: [u8; 16] = Sha256::digest(format!("warden-dummy-salt:{user}").as_bytes())[..16]
        .try_into()
        .unwrap_or([7; 16]);
    let mut stored_key = [0u8; 32];
    let mut server_key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut stored_key);
    rand::thread_rng().fill_bytes(&mut server_key);
    ScramVerifier {
        iterations: warden_gate::auth::scram::DEFAULT_ITERATIONS,
        salt: salt.to_vec(),
        stored_key,
        server_key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};

    fn run(password_stored: &str, password_given: &str) -> Result<(), ScramFailure> {
        let verifier = ScramVerifier::derive(password_stored, b"0123456789abcdef", 4096);
        let mut client = ScramSha256::new(password_given.as_bytes(), ChannelBinding::unsupported());
        let (server, server_first) = ScramServer::start(verifier, client.message())?;
        client
            .update(server_first.as_bytes())
            .map_err(|_| ScramFailure::Malformed("client rejected server-first"))?;
        let server_final = server.finish(client.message())?;
        client
            .finish(server_final.as_bytes())
            .map_err(|_| ScramFailure::Malformed("client rejected server signature"))
    }

    #[test]
    fn real_client_logs_in_with_right_password() {
        assert_eq!(run("s3cret", "s3cret"), Ok(()));
    }

    #[test]
    fn wrong_password_is_refused() {
        assert_eq!(run("s3cret", "guess"), Err(ScramFailure::BadProof));
    }

    #[test]
    fn malformed_messages_are_errors() {
        let v = || ScramVerifier::derive("pw", b"salt", 4096);
        for first in [
            &b""[..],
            b"x,,n=,r=abc",
            b"n,,",
            b"n,,n=",
            b"p=tls-server-end-point,,n=,r=a",
            b"n,,r=a,m=ext",
            &[0xff, 0xfe],
        ] {
            assert!(ScramServer::start(v(), first).is_err(), "{first:?}");
        }
        let Ok((server, _)) = ScramServer::start(v(), b"n,,n=,r=abc") else {
            panic!("start")
        };
        assert!(server.finish(b"c=biws,r=wrongnonce,p=AAAA").is_err());
    }

    #[test]
    fn dummy_verifier_never_matches() {
        let dummy = dummy_verifier("nobody");
        let mut client = ScramSha256::new(b"", ChannelBinding::unsupported());
        let Ok((server, first)) = ScramServer::start(dummy, client.message()) else {
            panic!("start")
        };
        assert!(client.update(first.as_bytes()).is_ok());
        assert_eq!(server.finish(client.message()), Err(ScramFailure::BadProof));
    }

    /// One exchange checks a password and gateway tokens of one salt: the proof names
    /// which matched; a verifier of another salt never matches.
    #[test]
    fn several_verifiers_of_one_salt_say_which_matched() {
        let salt = b"0123456789abcdef";
        let other = ScramVerifier::derive("tok-2", b"another-salt-xyz", 4096);
        let verifiers = vec![
            ScramVerifier::derive("password", salt, 4096),
            ScramVerifier::derive("tok-1", salt, 4096),
            other,
        ];
        let login = |given: &str| {
            let mut client = ScramSha256::new(given.as_bytes(), ChannelBinding::unsupported());
            let (server, first) = ScramServer::start_any(verifiers.clone(), client.message())?;
            assert!(first.contains(&B64.encode(salt)), "{first}");
            client
                .update(first.as_bytes())
                .map_err(|_| ScramFailure::Malformed("client"))?;
            let (server_final, i) = server.finish_any(client.message())?;
            client
                .finish(server_final.as_bytes())
                .map_err(|_| ScramFailure::Malformed("server signature"))?;
            Ok::<usize, ScramFailure>(i)
        };
        assert_eq!(login("password"), Ok(0));
        assert_eq!(login("tok-1"), Ok(1));
        assert_eq!(login("tok-2"), Err(ScramFailure::BadProof));
        assert_eq!(login("guess"), Err(ScramFailure::BadProof));
    }
}
