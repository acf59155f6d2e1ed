//! Signed checkpoints: an ed25519 signature over (sequence, head hash, time).
//!
//! A checkpoint proves that the holder of the signing key saw the chain with this head
//! at this sequence. Kept in the store and, optionally, appended to an external JSON
//! lines file. This module must never write a key file readable by others, and never
//! accept a checkpoint whose signature does not verify.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::error::AuditError;

/// Domain separation prefix of the signed message.
pub const CHECKPOINT_DOMAIN: &[u8] = b"warden-audit-checkpoint/v1\n";

/// One signed head of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Sequence number of the last record covered (0: the empty chain).
    pub seq: u64,
    /// Hex SHA-256 hash of record `seq` (64 zeros for seq 0).
    pub head: String,
    /// When it was signed, RFC 3339 (informative; `time_ns` is what is signed).
    #[serde(with = "time::serde::rfc3339")]
    pub time: time::OffsetDateTime,
    /// Unix time in nanoseconds, as signed.
    pub time_ns: i64,
    /// Hex ed25519 public key that made `sig`.
    pub key: String,
    /// Hex ed25519 signature over [`Checkpoint::message`].
    pub sig: String,
}

impl Checkpoint {
    /// CHECKPOINT_DOMAIN || seq u64 BE || head (32 bytes) || time_ns i64 BE.
    pub fn message(seq: u64, head: &[u8; 32], time_ns: i64) -> Vec<u8> {
        let mut m = Vec::with_capacity(CHECKPOINT_DOMAIN.len() + 48);
        m.extend_from_slice(CHECKPOINT_DOMAIN);
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(head);
        m.extend_from_slice(&time_ns.to_be_bytes());
        m
    }

    /// Sign (seq, head, time_ns) with `key`.
    pub fn sign(key: &SigningKey, seq: u64, head: &[u8; 32], time_ns: i64) -> Checkpoint {
        let sig = key.sign(&Self::message(seq, head, time_ns));
        Checkpoint {
            seq,
            head: hex::encode(head),
            time: crate::record::time_from_ns(time_ns),
            time_ns,
            key: hex::encode(key.verifying_key().as_bytes()),
            sig: hex::encode(sig.to_bytes()),
        }
    }

    /// The head as bytes, if well formed.
    pub fn head_bytes(&self) -> Option<[u8; 32]> {
        hex::decode(&self.head).ok()?.try_into().ok()
    }

    /// Check the signature against `trusted`; `Err` says what is wrong.
    pub fn check(&self, trusted: &VerifyingKey) -> Result<(), String> {
        if self.key != hex::encode(trusted.as_bytes()) {
            return Err(format!(
                "checkpoint at sequence {} is signed by key {}, not by the trusted key {}",
                self.seq,
                self.key,
                hex::encode(trusted.as_bytes())
            ));
        }
        let head = self
            .head_bytes()
            .ok_or_else(|| format!("checkpoint at sequence {} has a malformed head", self.seq))?;
        let sig: [u8; 64] = hex::decode(&self.sig)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| {
                format!(
                    "checkpoint at sequence {} has a malformed signature",
                    self.seq
                )
            })?;
        trusted
            .verify(
                &Self::message(self.seq, &head, self.time_ns),
                &Signature::from_bytes(&sig),
            )
            .map_err(|_| {
                format!(
                    "checkpoint at sequence {} has an invalid signature (forged or edited)",
                    self.seq
                )
            })
    }
}

/// Load the signing key at `path`, creating it (mode 0600) and `<path>.pub` if missing.
pub fn load_or_create_key(path: &Path) -> Result<SigningKey, AuditError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_key(path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key(path),
        Err(e) => Err(AuditError::io(path, e)),
    }
}

fn parse_key(path: &Path, text: &str) -> Result<SigningKey, AuditError> {
    let seed: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| AuditError::Key {
            path: path.to_path_buf(),
            what: "expected 64 hex characters (an ed25519 seed)".into(),
        })?;
    Ok(SigningKey::from_bytes(&seed))
}

fn create_key(path: &Path) -> Result<SigningKey, AuditError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| AuditError::io(dir, e))?;
    }
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| AuditError::io(path, e))?;
    writeln!(f, "{}", hex::encode(key.to_bytes()))
        .and_then(|_| f.sync_all())
        .map_err(|e| AuditError::io(path, e))?;
    let pub_path = public_key_path(path);
    std::fs::write(
        &pub_path,
        format!("{}\n", hex::encode(key.verifying_key().as_bytes())),
    )
    .map_err(|e| AuditError::io(&pub_path, e))?;
    Ok(key)
}

/// `<key>.pub`: where the public half of a signing key is written.
pub fn public_key_path(key: &Path) -> PathBuf {
    let mut s = key.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

/// Read a public key: a file holding 64 hex characters (a `.pub` file) or a signing
/// key file (its public half is derived).
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, AuditError> {
    let text = std::fs::read_to_string(path).map_err(|e| AuditError::io(path, e))?;
    let bad = |what: &str| AuditError::Key {
        path: path.to_path_buf(),
        what: what.to_string(),
    };
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad("expected 64 hex characters"))?;
    if path.extension().is_some_and(|e| e == "pub") {
        VerifyingKey::from_bytes(&bytes).map_err(|_| bad("not an ed25519 public key"))
    } else {
        Ok(SigningKey::from_bytes(&bytes).verifying_key())
    }
}

/// Append `cp` as one JSON line to `path` and fsync it.
pub fn append_to_file(path: &Path, cp: &Checkpoint) -> Result<(), AuditError> {
    let mut line = serde_json::to_vec(cp)?;
    line.push(b'\n');
    let mut f: File = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| AuditError::io(path, e))?;
    f.write_all(&line)
        .and_then(|_| f.sync_data())
        .map_err(|e| AuditError::io(path, e))
}

/// Read every checkpoint line of an external checkpoint file. A torn last line (the
/// writer was killed mid-write) is ignored; any other bad line is an error.
pub fn read_file(path: &Path) -> Result<Vec<Checkpoint>, AuditError> {
    let text = std::fs::read_to_string(path).map_err(|e| AuditError::io(path, e))?;
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Checkpoint>(line) {
            Ok(cp) => out.push(cp),
            // Only the final line may be torn: it has no trailing newline.
            Err(_) if i + 1 == lines.len() => {}
            Err(e) => {
                return Err(AuditError::BadFile {
                    path: path.to_path_buf(),
                    what: format!("line {}: not a checkpoint: {e}", i + 1),
                })
            }
        }
    }
    Ok(out)
}

/// Cut a torn last line (a write interrupted by a crash) off the checkpoint file so the
/// next checkpoint starts on a line of its own. Complete lines are never touched.
pub fn repair_torn_tail(path: &Path) -> Result<(), AuditError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(AuditError::io(path, e)),
    };
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    tracing::warn!(
        "audit checkpoint file {}: dropping a torn last line ({} bytes)",
        path.display(),
        bytes.len() - keep
    );
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| AuditError::io(path, e))?;
    f.set_len(keep as u64)
        .and_then(|_| f.sync_all())
        .map_err(|e| AuditError::io(path, e))
}
