//! The one error type of the audit crate.
//!
//! Every error here means "this record is not (known to be) on disk": callers must fail
//! closed on any of them and never forward the action the record was about.

use std::path::PathBuf;

/// What went wrong in the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Another process (usually a running `warden serve`) holds the store's lock.
    #[error(
        "audit store {0} is in use by another process (sled takes an exclusive lock; \
         stop `warden serve` or read an exported copy)"
    )]
    Locked(PathBuf),
    /// The sled store failed.
    #[error("audit store: {0}")]
    Store(#[from] sled::Error),
    /// A file next to the store (key, checkpoint file, fsync) failed.
    #[error("audit I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The signing key file is unusable.
    #[error("audit signing key {path}: {what}")]
    Key { path: PathBuf, what: String },
    /// A file the audit log reads (the external checkpoint file) is malformed.
    #[error("{path}: {what}")]
    BadFile { path: PathBuf, what: String },
    /// A stored record or checkpoint cannot be decoded.
    #[error("audit record {seq}: {what}")]
    Corrupt { seq: u64, what: String },
    /// The event could not be encoded.
    #[error("audit event encoding: {0}")]
    Encode(#[from] serde_json::Error),
    /// The log was shut down (or its writer stopped); no more appends.
    #[error("audit log is closed")]
    Closed,
    /// An earlier batch could not be made durable; the log refuses every later append.
    #[error("audit log refuses appends after a failed write: {0}")]
    Failed(String),
}

impl AuditError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> AuditError {
        AuditError::Io {
            path: path.into(),
            source,
        }
    }
}
