//! # warden-audit
//!
//! The append-only, hash-chained, tamper-evident audit log (docs/audit-format.md).
//! One writer thread owns appends and group-commits them into a write-ahead journal
//! (sled follows on its own threads); callers choose per append between
//! [`Durability::Durable`] (returns once the journal frame holding the record is
//! fsynced) and [`Durability::Queued`] (returns at once; durable within
//! `queued_window`). Signed checkpoints seal the head; [`verify_dir`] and
//! [`AuditLog::verify`] walk the chain and the checkpoints.
//!
//! This crate must never drop or reorder an acknowledged record, never store secrets
//! (events are [`redact`]ed before they are hashed), and never report success for an
//! append it could not make durable: callers fail closed on an error.

#![forbid(unsafe_code)]

mod apply;
mod canonical;
pub mod checkpoint;
pub mod config;
mod durable;
pub mod error;
pub mod event;
pub mod export;
mod flusher;
#[doc(hidden)]
pub mod fuzzing;
mod inbox;
mod journal;
pub mod layout;
mod log;
mod progress;
pub mod query;
mod reader;
pub mod record;
mod records;
pub mod redact;
pub mod ship;
mod store;
pub mod verify;
mod window;
mod writer;

pub use checkpoint::Checkpoint;
pub use config::{AuditConfig, DEFAULT_CACHE_BYTES};
pub use error::AuditError;
pub use event::{AlertRef, ApprovalRef, Event, EventKind, Outcome, VerdictSummary};
pub use log::{AuditLog, Durability, TryAppend};
pub use query::{Page, Query};
pub use reader::AuditReader;
pub use record::{export_line, Record};
pub use redact::redact;
pub use verify::{verify_dir, verify_dir_with_key, VerifyReport};
