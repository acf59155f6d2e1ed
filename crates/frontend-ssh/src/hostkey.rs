//! Warden's own SSH host key per target: loaded from its file, or generated (ed25519)
//! on first start and written with mode 0600.
//!
//! Must never overwrite an existing key, never write it readable by others, and never
//! log the private part.

use std::io::Write;
use std::path::{Path, PathBuf};

use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::ssh_key::LineEnding;
use russh::keys::{HashAlg, PrivateKey};

use super::SshError;
use warden_config::TargetConfig;

/// Where the target's host key lives: `ssh.host_key`, else under the data dir.
pub fn path_for(target: &TargetConfig, data_dir: &Path) -> PathBuf {
    target.ssh.host_key.clone().unwrap_or_else(|| {
        data_dir
            .join("ssh")
            .join(format!("{}_host_ed25519", target.name))
    })
}

/// Load the key at `path`, generating it first when the file does not exist.
///
/// Generation writes a private temporary file and hard-links it into place, so a key
/// file is never seen half-written and never overwritten: when two callers race (the
/// front-end starting and `warden serve` printing the fingerprint), the loser loads the
/// winner's key.
pub fn load_or_generate(path: &Path) -> Result<PrivateKey, SshError> {
    if path.exists() {
        return Ok(russh::keys::load_secret_key(path, None)?);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let seed: [u8; 32] = rand::random();
    let key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    let text = key.to_openssh(LineEnding::LF)?;
    let tmp = path.with_extension(format!("tmp-{:016x}", rand::random::<u64>()));
    let written = write_private(&tmp, text.as_bytes());
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(russh::keys::load_secret_key(path, None)?)
        }
        Err(e) => Err(e.into()),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// `SHA256:...` fingerprint of the target's host key (generating it if needed), for
/// `warden serve` to print and the console to show.
pub fn host_key_fingerprint(target: &TargetConfig, data_dir: &Path) -> Result<String, SshError> {
    let key = load_or_generate(&path_for(target, data_dir))?;
    Ok(key.public_key().fingerprint(HashAlg::Sha256).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_private_and_stable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ssh").join("t_host_ed25519");
        let first = load_or_generate(&path).expect("generate");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = load_or_generate(&path).expect("load");
        assert_eq!(first.public_key(), again.public_key(), "never regenerated");
        let fp = again.public_key().fingerprint(HashAlg::Sha256).to_string();
        assert!(fp.starts_with("SHA256:"), "{fp}");
    }

    #[test]
    fn racing_generators_agree_on_one_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("ssh").join("t_host_ed25519");
            let keys: Vec<_> = std::thread::scope(|s| {
                let a = s.spawn(|| load_or_generate(&path));
                let b = s.spawn(|| load_or_generate(&path));
                [a, b].map(|h| h.join().expect("thread").expect("key"))
            })
            .into_iter()
            .collect();
            assert_eq!(keys[0].public_key(), keys[1].public_key());
            let on_disk = load_or_generate(&path).expect("load");
            assert_eq!(on_disk.public_key(), keys[0].public_key());
            let left: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
                .expect("list")
                .collect();
            assert_eq!(left.len(), 1, "temporary files removed");
        }
    }
}
