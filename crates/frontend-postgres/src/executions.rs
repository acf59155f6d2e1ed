//! Outcomes of Executes: the first Execute after a Parse completes the statement's Gate
//! ticket; every later Execute of the same prepared statement is recorded through the
//! gate's [`Repeat`] (own record, same durability as the decision; an approved statement
//! is single-use).
//!
//! [`Prepared`] is what the session keeps per prepared statement, and decides what one
//! Execute of it may do ([`Execution`]).
//!
//! Must never let an Execute that reached the upstream go without an outcome record.

use std::sync::Arc;

use warden_audit::Outcome;

pub use warden_gate::Repeat;
use warden_gate::{Gate, Ticket};

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

/// An allowed prepared statement: its ticket until the first Execute, then what later
/// Executes need for their own outcome records.
pub struct Prepared {
    pub ticket: Option<Box<Ticket>>,
    again: Option<Arc<Repeat>>,
    /// Running it may change standard_conforming_strings (see `settings.rs`).
    pub changes_strings: bool,
}

/// What to do with one Execute.
pub enum Execution {
    Run(Outcomes),
    /// A second execution of an approved statement (approvals are single-use).
    RefuseReuse(Arc<Repeat>, u64),
    /// A portal of a statement this session never Parsed: made by SQL `PREPARE`, whose
    /// decision covered preparing it, not running it (SQL `EXECUTE` is decided anew).
    RefuseUnparsed(String),
}

impl Prepared {
    pub fn new(gate: &Gate, ticket: Option<Box<Ticket>>, changes_strings: bool) -> Prepared {
        let again = ticket
            .as_deref()
            .map(|t| Arc::new(Repeat::from_ticket(gate, t)));
        Prepared {
            ticket,
            again,
            changes_strings,
        }
    }

    pub fn execute(&mut self) -> Execution {
        if let Some(t) = self.ticket.take() {
            return Execution::Run(Outcomes::Ticket(t));
        }
        match &self.again {
            Some(r) if r.approval_id().is_some() => {
                Execution::RefuseReuse(Arc::clone(r), r.next_execution())
            }
            Some(r) => Execution::Run(Outcomes::Again(Arc::clone(r), r.next_execution())),
            None => Execution::Run(Outcomes::Nobody),
        }
    }
}
