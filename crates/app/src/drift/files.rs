//! The policy files as bytes: one [`FileSnapshot`] per read of the policy paths (every
//! `*.yaml`/`*.yml` under a folder, recursively, exactly what `PolicySet::load` reads),
//! with each file's SHA-256 for the `files_loaded` record and the files that differ
//! between two snapshots.
//!
//! Must never follow anything but the configured paths, and never fail silently: a file
//! that cannot be read makes the whole snapshot an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Every policy file's bytes, by path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSnapshot {
    files: BTreeMap<PathBuf, Vec<u8>>,
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if matches!(
            path.extension().and_then(|x| x.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl FileSnapshot {
    /// Read every file under `paths`.
    pub fn read(paths: &[PathBuf]) -> Result<FileSnapshot, String> {
        let mut names = Vec::new();
        for p in paths {
            if p.is_dir() {
                collect(p, &mut names).map_err(|e| format!("{}: {e}", p.display()))?;
            } else {
                names.push(p.clone());
            }
        }
        let mut files = BTreeMap::new();
        for f in names {
            let bytes = std::fs::read(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            files.insert(f, bytes);
        }
        Ok(FileSnapshot { files })
    }

    /// A snapshot of given contents (a proposal).
    pub fn from_files(files: BTreeMap<PathBuf, Vec<u8>>) -> FileSnapshot {
        FileSnapshot { files }
    }

    pub fn files(&self) -> &BTreeMap<PathBuf, Vec<u8>> {
        &self.files
    }

    /// SHA-256 over every file's name and bytes, to tell two snapshots apart quickly.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for (name, bytes) in &self.files {
            h.update(name.to_string_lossy().as_bytes());
            h.update([0]);
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(bytes);
        }
        h.finalize().into()
    }

    /// One line per file, `sha256sum` style: `<hex>  <path>`.
    pub fn hash_lines(&self) -> Vec<String> {
        self.files
            .iter()
            .map(|(p, b)| format!("{}  {}", sha256_hex(b), p.display()))
            .collect()
    }

    /// Files added, removed or changed from `self` to `new`, sorted.
    pub fn changed(&self, new: &FileSnapshot) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|(p, b)| new.files.get(*p) != Some(*b))
            .map(|(p, _)| p.clone())
            .collect();
        out.extend(
            new.files
                .keys()
                .filter(|p| !self.files.contains_key(*p))
                .cloned(),
        );
        out.sort();
        out
    }

    /// A unified diff of every changed file, at most `limit` bytes (then cut with a note).
    pub fn diff(&self, new: &FileSnapshot, limit: usize) -> String {
        let mut out = String::new();
        for path in self.changed(new) {
            let old = self.files.get(&path).map(|b| String::from_utf8_lossy(b));
            let now = new.files.get(&path).map(|b| String::from_utf8_lossy(b));
            let shown = path.display().to_string();
            out.push_str(&super::unified::diff(
                &shown,
                old.as_deref(),
                now.as_deref(),
            ));
        }
        super::unified::bounded(out, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_folders_recursively_and_names_what_changed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("team");
        std::fs::create_dir_all(&sub).expect("mkdir");
        std::fs::write(dir.path().join("a.yaml"), "a: 1\n").expect("write");
        std::fs::write(sub.join("b.yml"), "b: 1\n").expect("write");
        std::fs::write(dir.path().join("notes.txt"), "ignored").expect("write");
        let paths = vec![dir.path().to_path_buf()];
        let before = FileSnapshot::read(&paths).expect("read");
        assert_eq!(before.files().len(), 2);
        assert_eq!(
            before.hash_lines()[0],
            format!(
                "{}  {}",
                sha256_hex(b"a: 1\n"),
                dir.path().join("a.yaml").display()
            )
        );
        std::fs::write(sub.join("b.yml"), "b: 2\n").expect("write");
        let after = FileSnapshot::read(&paths).expect("read");
        assert_ne!(before.fingerprint(), after.fingerprint());
        assert_eq!(before.changed(&after), vec![sub.join("b.yml")]);
        let diff = before.diff(&after, 10_000);
        assert!(diff.contains("-b: 1\n+b: 2\n"), "{diff}");
        assert!(FileSnapshot::read(&[dir.path().join("missing.yaml")]).is_err());
    }
}
