//! Gate counters for `/metrics`: decisions by outcome and audit failures. Plain atomics,
//! never a lock on the decision path.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub(super) struct Counters {
    allowed: AtomicU64,
    denied: AtomicU64,
    held: AtomicU64,
    retry_later: AtomicU64,
    hold_approved: AtomicU64,
    hold_refused: AtomicU64,
    audit_failures: AtomicU64,
    completed: AtomicU64,
}

/// A snapshot of the Gate's counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct GateStats {
    /// Allowed at once by policy.
    pub allowed: u64,
    /// Denied by policy.
    pub denied: u64,
    /// Held, waiting clients (retry-mode refusals are counted in `retry_later`).
    pub held: u64,
    pub retry_later: u64,
    /// Held actions that were approved and handed a ticket.
    pub hold_approved: u64,
    /// Held actions that ended denied, expired or withdrawn.
    pub hold_refused: u64,
    /// Actions refused because the audit log could not record them.
    pub audit_failures: u64,
    /// Tickets whose outcome was recorded.
    pub completed: u64,
}

impl Counters {
    pub(super) fn allowed(&self) {
        self.allowed.fetch_add(1, Relaxed);
    }
    pub(super) fn denied(&self) {
        self.denied.fetch_add(1, Relaxed);
    }
    pub(super) fn held(&self) {
        self.held.fetch_add(1, Relaxed);
    }
    pub(super) fn retry_later(&self) {
        self.retry_later.fetch_add(1, Relaxed);
    }
    pub(super) fn hold_approved(&self) {
        self.hold_approved.fetch_add(1, Relaxed);
    }
    pub(super) fn hold_refused(&self) {
        self.hold_refused.fetch_add(1, Relaxed);
    }
    pub(super) fn audit_failure(&self) {
        self.audit_failures.fetch_add(1, Relaxed);
    }
    pub(super) fn completed(&self) {
        self.completed.fetch_add(1, Relaxed);
    }
    pub(super) fn snapshot(&self) -> GateStats {
        GateStats {
            allowed: self.allowed.load(Relaxed),
            denied: self.denied.load(Relaxed),
            held: self.held.load(Relaxed),
            retry_later: self.retry_later.load(Relaxed),
            hold_approved: self.hold_approved.load(Relaxed),
            hold_refused: self.hold_refused.load(Relaxed),
            audit_failures: self.audit_failures.load(Relaxed),
            completed: self.completed.load(Relaxed),
        }
    }
}
