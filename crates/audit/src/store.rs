//! Opening the sled store and making its writes durable.
//!
//! sled's `flush` writes its log with `pwrite` + `sync_file_range` (sled issue #1452):
//! the data reaches the OS page cache and is written back to the device, but neither
//! the file's metadata nor the device's volatile cache is flushed. [`Durability::sync`]
//! therefore follows every flush with `fdatasync` on sled's files, so an acknowledged
//! durable append survives a power cut as well as a process kill. This module must
//! never report a sync as done when any step of it failed.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::AuditError;
use crate::layout;

/// How long [`open_db`] keeps retrying a store whose lock is still held. sled releases
/// its directory lock from background threads a moment after the last handle in this
/// process is dropped, so a reopen right after a shutdown (a restart, `warden audit
/// verify` right after `warden serve` stopped) would otherwise fail spuriously. A store
/// held by a running gateway still fails with [`AuditError::Locked`] after this wait.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Open (or create) the sled store at `path` with a page cache of `cache_bytes`.
pub fn open_db(path: &Path, cache_bytes: u64) -> Result<sled::Db, AuditError> {
    retry_while_locked(|| open_db_once(path, cache_bytes))
}

fn retry_while_locked(
    mut open: impl FnMut() -> Result<sled::Db, AuditError>,
) -> Result<sled::Db, AuditError> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match open() {
            Err(AuditError::Locked(_)) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

fn open_db_once(path: &Path, cache_bytes: u64) -> Result<sled::Db, AuditError> {
    std::fs::create_dir_all(path).map_err(|e| AuditError::io(path, e))?;
    let db = sled::Config::new()
        .path(path)
        // The writer decides when to flush (group commit); no background flusher.
        .flush_every_ms(None)
        // An append-only log: favour write throughput over compacting segments
        // (LowSpace, the default, rewrites live data much more often).
        .mode(sled::Mode::HighThroughput)
        .cache_capacity(cache_bytes)
        .open()
        .map_err(|e| classify_open_error(path, e))?;
    match db.get(layout::META_FORMAT)? {
        None => {
            db.insert(layout::META_FORMAT, layout::FORMAT_NAME)?;
        }
        Some(f) if f.as_ref() == layout::FORMAT_NAME => {}
        Some(f) => {
            return Err(AuditError::Corrupt {
                seq: 0,
                what: format!(
                    "{} is not a warden audit store (format {:?})",
                    path.display(),
                    String::from_utf8_lossy(&f)
                ),
            })
        }
    }
    Ok(db)
}

fn classify_open_error(path: &Path, e: sled::Error) -> AuditError {
    if let sled::Error::Io(io) = &e {
        let text = io.to_string();
        if io.kind() == std::io::ErrorKind::WouldBlock || text.contains("lock") {
            return AuditError::Locked(path.to_path_buf());
        }
    }
    AuditError::Store(e)
}

/// Flush + fsync of one sled store.
pub struct Syncer {
    dir: PathBuf,
    db_file: File,
    fsync: bool,
    synced_blobs: HashSet<std::ffi::OsString>,
}

impl Syncer {
    pub fn new(dir: &Path, fsync: bool) -> Result<Syncer, AuditError> {
        let db_path = dir.join("db");
        let db_file = File::open(&db_path).map_err(|e| AuditError::io(&db_path, e))?;
        Ok(Syncer {
            dir: dir.to_path_buf(),
            db_file,
            fsync,
            synced_blobs: HashSet::new(),
        })
    }

    /// Make everything written to `db` so far durable against a power cut.
    pub fn sync(&mut self, db: &sled::Db) -> Result<(), AuditError> {
        db.flush()?;
        if !self.fsync {
            return Ok(());
        }
        self.db_file
            .sync_data()
            .map_err(|e| AuditError::io(self.dir.join("db"), e))?;
        self.sync_new_blobs()
    }

    /// sled writes values larger than a segment fraction to `blobs/`, each file
    /// written once; fsync every blob not synced before, then the directory.
    fn sync_new_blobs(&mut self) -> Result<(), AuditError> {
        let blobs = self.dir.join("blobs");
        let Ok(entries) = std::fs::read_dir(&blobs) else {
            return Ok(());
        };
        let mut any = false;
        for entry in entries {
            let entry = entry.map_err(|e| AuditError::io(&blobs, e))?;
            let name = entry.file_name();
            if self.synced_blobs.contains(&name) {
                continue;
            }
            let p = entry.path();
            match File::open(&p).and_then(|f| f.sync_data()) {
                Ok(()) => {}
                // sled removed it meanwhile (garbage-collected blob): nothing to sync.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(AuditError::io(&p, e)),
            }
            self.synced_blobs.insert(name);
            any = true;
        }
        if any {
            File::open(&blobs)
                .and_then(|f| f.sync_all())
                .map_err(|e| AuditError::io(&blobs, e))?;
        }
        Ok(())
    }
}

/// Open an existing store for reading (verify, export, tail); never creates one. The
/// one write it may make is replaying the journal of a store whose process was killed.
pub fn open_existing(path: &Path) -> Result<sled::Db, AuditError> {
    if !path.join("db").is_file() || !path.join("conf").is_file() {
        return Err(AuditError::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no audit store here (expected a sled directory)",
            ),
        ));
    }
    let db = retry_while_locked(|| {
        sled::Config::new()
            .path(path)
            .flush_every_ms(None)
            .open()
            .map_err(|e| classify_open_error(path, e))
    })?;
    match db.get(layout::META_FORMAT)? {
        Some(f) if f.as_ref() == layout::FORMAT_NAME => {}
        _ => {
            return Err(AuditError::Corrupt {
                seq: 0,
                what: format!("{} is not a warden audit store", path.display()),
            })
        }
    }
    // A store left by a killed process may hold acknowledged records only in its
    // journal: add them (only ones that continue the chain), as `AuditLog::open` would.
    // A tail that does not check is left alone for verify to report.
    if let Ok(head) = crate::log::recover_head(&db) {
        let replayed = crate::journal::replay(&db, path, head)?;
        if replayed.records + replayed.checkpoints > 0 {
            Syncer::new(path, true)?.sync(&db)?;
        }
    }
    Ok(db)
}
