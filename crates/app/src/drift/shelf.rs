//! Policy proposals waiting for review, kept on disk so a restart does not withdraw
//! them: one JSON file per proposal, `<data_dir>/policy-proposals/<id>.json`, written
//! aside, synced and renamed into place (a crash leaves the old file or the new one,
//! never half of one). Each holds what the decision needs: the approval request's id,
//! the fingerprint of the files in force when it was made and the proposed files.
//!
//! The approval request itself (who approved, whether it expired) lives in the
//! approvals store; this shelf never decides anything and never writes a policy file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The folder under the data dir.
pub const FOLDER: &str = "policy-proposals";

/// One proposal as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    /// The approval request's id.
    pub id: String,
    /// Fingerprint (SHA-256) of the policy files in force when it was proposed.
    pub base: [u8; 32],
    /// The proposed files (replaced or added), by the running path they go to.
    pub files: BTreeMap<PathBuf, String>,
}

/// The proposals of one gateway.
#[derive(Debug, Clone)]
pub struct Shelf {
    dir: PathBuf,
}

/// Write `bytes` to `path` so that a crash leaves either the old or the new content:
/// a file aside in the same folder, synced, renamed over `path`, the folder synced.
pub fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let aside = path.with_file_name(format!(".{}.warden-new", name.unwrap_or_default()));
    let fail = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    let mut f = std::fs::File::create(&aside).map_err(|e| fail(&aside, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| fail(&aside, e))?;
    std::fs::rename(&aside, path).map_err(|e| fail(path, e))?;
    if let Some(folder) = path.parent() {
        std::fs::File::open(folder)
            .and_then(|d| d.sync_all())
            .map_err(|e| fail(folder, e))?;
    }
    Ok(())
}

impl Shelf {
    pub fn new(data_dir: &Path) -> Shelf {
        Shelf {
            dir: data_dir.join(FOLDER),
        }
    }

    fn path(&self, id: &str) -> Option<PathBuf> {
        // Ids are ours (hex); anything else must not become a path.
        let plain = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric());
        plain.then(|| self.dir.join(format!("{id}.json")))
    }

    /// Keep `kept` durably.
    pub fn keep(&self, kept: &Kept) -> Result<(), String> {
        let path = self
            .path(&kept.id)
            .ok_or_else(|| format!("`{}` is not a proposal id", kept.id))?;
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let json = serde_json::to_vec_pretty(kept).map_err(|e| e.to_string())?;
        write_durably(&path, &json)
    }

    /// Forget a decided proposal (a missing file is not an error).
    pub fn remove(&self, id: &str) {
        let Some(path) = self.path(id) else { return };
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not remove a decided policy proposal")
            }
        }
    }

    /// Every kept proposal; a file that does not parse is skipped with a warning (it can
    /// never be applied: only a parsed proposal with an approved request can).
    pub fn all(&self) -> Vec<Kept> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for path in entries.flatten().map(|e| e.path()) {
            if path.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            let read = std::fs::read(&path).map_err(|e| e.to_string());
            match read.and_then(|b| serde_json::from_slice::<Kept>(&b).map_err(|e| e.to_string())) {
                Ok(k) if self.path(&k.id).as_deref() == Some(path.as_path()) => out.push(k),
                Ok(_) => {
                    tracing::warn!(path = %path.display(), "skipping a policy proposal whose id does not match its file name")
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping an unreadable policy proposal")
                }
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_proposals_come_back_and_removed_ones_do_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shelf = Shelf::new(dir.path());
        assert!(shelf.all().is_empty(), "no folder yet: nothing kept");
        let kept = Kept {
            id: "0a1b2c".into(),
            base: [0xab; 32],
            files: BTreeMap::from([(PathBuf::from("/p/main.yaml"), "version: 1\n".into())]),
        };
        shelf.keep(&kept).expect("keep");
        std::fs::write(dir.path().join(FOLDER).join("junk.json"), "{").expect("junk");
        assert_eq!(shelf.all(), vec![kept.clone()]);
        assert!(shelf
            .keep(&Kept {
                id: "../escape".into(),
                ..kept.clone()
            })
            .is_err());
        shelf.remove(&kept.id);
        shelf.remove(&kept.id);
        assert!(shelf.all().is_empty());
    }
}
