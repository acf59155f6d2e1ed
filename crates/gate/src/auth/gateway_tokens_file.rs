//! The gateway token store on disk (`<data_dir>/gateway-tokens.json`), so tokens outlive
//! a restart: per token its id, person, roles, times, whether it was revoked, the
//! SHA-256 of the token and its SCRAM verifier — the same as in memory, never a token.
//! Written whole (temporary file, then rename; mode 0600 on Unix) after every mint and
//! revoke.
//!
//! A file that cannot be read back is set aside (`.unreadable`) and the store starts
//! empty: every token minted before is refused, the safe direction. This module must
//! never write a token's secret and never accept a record it cannot fully read.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use warden_config::scram::ScramVerifier;

use super::gateway_tokens::{Entry, TokenInfo};

#[derive(Serialize, Deserialize)]
struct Stored {
    id: String,
    user: String,
    roles: Vec<String>,
    local: bool,
    issued: u64,
    expires: u64,
    revoked: bool,
    /// SHA-256 of the token, hex.
    sha256: String,
    /// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
    scram: String,
}

#[derive(Serialize, Deserialize, Default)]
struct File {
    version: u32,
    tokens: Vec<Stored>,
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn time(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(s)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Writes `entries` to `path` (whole, atomically).
pub(super) fn save(path: &Path, entries: &[Entry]) -> std::io::Result<()> {
    let file = File {
        version: 1,
        tokens: entries
            .iter()
            .map(|e| Stored {
                id: e.info.id.clone(),
                user: e.info.user.clone(),
                roles: e.info.roles.clone(),
                local: e.info.local,
                issued: secs(e.info.issued),
                expires: secs(e.info.expires),
                revoked: e.revoked,
                sha256: hex(&e.hash),
                scram: e.scram.to_text(),
            })
            .collect(),
    };
    let text = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp)?;
        std::io::Write::write_all(&mut f, &text)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Reads `path`; `Ok(vec![])` when it does not exist, `Err(why)` when it cannot be
/// read back whole.
pub(super) fn load(path: &Path) -> Result<Vec<Entry>, String> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.to_string()),
    };
    let file: File = serde_json::from_slice(&text).map_err(|e| e.to_string())?;
    if file.version != 1 {
        return Err(format!("unknown version {}", file.version));
    }
    file.tokens
        .into_iter()
        .map(|s| {
            let hash = unhex32(&s.sha256).ok_or_else(|| "a malformed sha256".to_string())?;
            let scram = ScramVerifier::parse(&s.scram)
                .ok_or_else(|| "a malformed SCRAM verifier".to_string())?;
            if s.id.len() != 8 || !s.id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err("a malformed token id".to_string());
            }
            Ok(Entry {
                info: TokenInfo {
                    id: s.id,
                    user: s.user,
                    roles: s.roles,
                    local: s.local,
                    issued: time(s.issued),
                    expires: time(s.expires),
                },
                hash,
                scram,
                revoked: s.revoked,
            })
        })
        .collect()
}
