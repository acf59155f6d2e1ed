//! # warden-audit
//!
//! The append-only, hash-chained, tamper-evident audit log (docs/audit-format.md).
//! One writer task owns appends and group-commits them; callers choose per append
//! between [`Durability::Durable`] (returns once the batch holding the record is on
//! disk) and [`Durability::Queued`] (returns at once; durable within a bounded window).
//!
//! This module must never drop or reorder an acknowledged record, never store secrets,
//! and never report success for an append it could not make durable: callers fail
//! closed on an error.

#![forbid(unsafe_code)]

pub mod event;

pub use event::{ApprovalRef, Event, EventKind, Outcome, VerdictSummary};
