//! # warden-audit
//!
//! The append-only, hash-chained, tamper-evident audit log (docs/audit-format.md).
//! One writer thread owns appends and group-commits them; callers choose per append
//! between [`Durability::Durable`] (returns once the batch holding the record is
//! flushed and fsynced) and [`Durability::Queued`] (returns at once; durable within
//! `queued_window`). Signed checkpoints seal the head; [`verify_dir`] and
//! [`AuditLog::verify`] walk the chain and the checkpoints.
//!
//! This crate must never drop or reorder an acknowledged record, never store secrets
//! (events are [`redact`]ed before they are hashed), and never report success for an
//! append it could not make durable: callers fail closed on an error.

#![forbid(unsafe_code)]

mod canonical;
pub mod checkpoint;
pub mod config;
pub mod error;
pub mod event;
pub mod layout;
mod log;
pub mod query;
pub mod record;
pub mod redact;
mod store;
pub mod verify;
mod writer;

pub use checkpoint::Checkpoint;
pub use config::AuditConfig;
pub use error::AuditError;
pub use event::{ApprovalRef, Event, EventKind, Outcome, VerdictSummary};
pub use log::{AuditLog, Durability};
pub use query::{Page, Query};
pub use record::{export_line, Record};
pub use redact::redact;
pub use verify::{verify_dir, verify_dir_with_key, VerifyReport};

/// Open an existing store read-only-in-spirit for export / tail (never creates one;
/// fails with [`AuditError::Locked`] while a running process holds it).
pub fn open_for_reading(dir: &std::path::Path) -> Result<sled::Db, AuditError> {
    store::open_existing(dir)
}

/// Every stored record with `lo <= seq <= hi`, oldest first, as (seq, raw value).
pub fn records_in(
    db: &sled::Db,
    lo: u64,
    hi: u64,
) -> impl DoubleEndedIterator<Item = Result<(u64, sled::IVec), AuditError>> {
    db.range(layout::record_key(lo)..=layout::record_key(hi))
        .map(|item| {
            let (k, v) = item?;
            Ok((layout::key_seq(&k).unwrap_or(0), v))
        })
}
