//! Outcomes of Executes: the first Execute after a Parse completes the statement's Gate
//! ticket; every later Execute of the same prepared statement is recorded through the
//! gate's [`Repeat`] (own record, same durability as the decision; an approved statement
//! is single-use).
//!
//! Must never let an Execute that reached the upstream go without an outcome record.

use std::sync::Arc;

use warden_audit::Outcome;

pub use warden_gate::Repeat;
use warden_gate::Ticket;

/// Who receives the outcome of one Execute.
pub enum Outcomes {
    /// The first Execute of a statement: the Gate ticket.
    Ticket(Box<Ticket>),
    /// A later Execute of the same statement, numbered.
    Again(Arc<Repeat>, u64),
    /// A statement Warden never allowed (it fails upstream: nothing to attribute).
    Nobody,
}

impl Outcomes {
    /// Records `outcome` without waiting: the relay never waits for the audit log.
    pub fn finish(self, outcome: Outcome) {
        match self {
            Outcomes::Ticket(t) => t.complete(outcome),
            Outcomes::Again(r, n) => r.record_now(n, outcome),
            Outcomes::Nobody => {}
        }
    }
}
