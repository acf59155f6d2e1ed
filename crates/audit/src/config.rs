//! Where the audit log lives and how often it seals itself.

use std::path::PathBuf;
use std::time::Duration;

/// Configuration of one audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// The sled directory.
    pub path: PathBuf,
    /// The ed25519 signing key (hex seed, mode 0600), created on first open if missing.
    /// Its public half is written next to it as `<signing_key>.pub`.
    pub signing_key: PathBuf,
    /// Optional JSON-lines file outside the store that receives a copy of every signed
    /// checkpoint (lets `verify` detect a truncated tail).
    pub checkpoint_file: Option<PathBuf>,
    /// Write a signed checkpoint after this many records ...
    pub checkpoint_every: u64,
    /// ... or this long after the first record not yet sealed by a checkpoint.
    pub checkpoint_interval: Duration,
    /// Upper bound for how long a `Queued` append may stay in memory only.
    pub queued_window: Duration,
    /// `true` (default): a durable flush ends with `fdatasync`, so acknowledged records
    /// survive a power cut. `false`: sled's flush only (`pwrite` + `sync_file_range`):
    /// acknowledged records survive a process kill, but a power cut or kernel crash may
    /// lose the last moments (docs/audit-format.md, "Durability").
    pub fsync: bool,
    /// sled's page cache for this store, in bytes (`audit.cache_mb`). Recently written
    /// records stay in it, so a busy gateway's resident memory grows by about the size of
    /// what it audits until the cache is full.
    pub cache_bytes: u64,
}

/// The default of [`AuditConfig::cache_bytes`] (`audit.cache_mb: 64`).
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

impl AuditConfig {
    /// Defaults for a store at `dir`: key at `<dir>.key` (so `./data/audit` gets
    /// `./data/audit.key`, as in the example config), no external checkpoint file, a
    /// checkpoint every 10 000 records or 10 s, queued records durable within 50 ms.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let path: PathBuf = dir.into();
        AuditConfig {
            signing_key: default_key_path(&path),
            path,
            checkpoint_file: None,
            checkpoint_every: 10_000,
            checkpoint_interval: Duration::from_secs(10),
            queued_window: Duration::from_millis(50),
            fsync: true,
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

/// `<dir>.key`: the default signing key location for a store at `dir`.
pub fn default_key_path(dir: &std::path::Path) -> PathBuf {
    // `components()` drops a trailing `/`, so `audit/` also gets `audit.key`.
    let mut s = dir.components().as_path().as_os_str().to_owned();
    s.push(".key");
    PathBuf::from(s)
}
