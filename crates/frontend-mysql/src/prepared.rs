//! Prepared statements bound to their decisions: COM_STMT_PREPARE is decided on its
//! text; the statement id the upstream returns is remembered with the Gate's ticket.
//! The first COM_STMT_EXECUTE completes that ticket; each later one is recorded through
//! the gate's [`Repeat`] (its own record, with the durability the Gate chose for the
//! decision). A statement that ran because a person approved it is single-use: a later
//! execute is refused and audited as refused.
//!
//! Must never let an execute of an id Warden did not see prepared (and allowed) reach
//! the upstream, and never let an approval cover more than one execution.

use std::collections::HashMap;
use std::sync::Arc;

use warden_audit::Outcome;
use warden_gate::{Gate, Repeat, Ticket};

/// One allowed prepared statement.
struct Prepared {
    ticket: Option<Box<Ticket>>,
    again: Arc<Repeat>,
}

/// What to do with one COM_STMT_EXECUTE.
pub enum Execution {
    /// Forward it; report the outcome to this.
    Run(Completion),
    /// Refuse it with this message (already audited).
    Refuse(String),
}

/// Who receives the outcome of one execute.
pub enum Completion {
    Ticket(Box<Ticket>),
    /// A later execution of an allowed statement, numbered.
    Again(Arc<Repeat>, u64),
}

impl Completion {
    /// Records `outcome` in the background (the session never waits for the log).
    pub fn finish(self, outcome: Outcome) {
        match self {
            Completion::Ticket(t) => {
                tokio::spawn((*t).completed(outcome));
            }
            Completion::Again(r, n) => {
                tokio::spawn(r.record(n, outcome));
            }
        }
    }
}

/// The session's prepared statements, by upstream statement id.
#[derive(Default)]
pub struct PreparedStatements {
    by_id: HashMap<u32, Prepared>,
}

impl PreparedStatements {
    pub fn insert(&mut self, gate: &Gate, id: u32, ticket: Box<Ticket>) {
        let prepared = Prepared {
            again: Arc::new(Repeat::from_ticket(gate, &ticket)),
            ticket: Some(ticket),
        };
        if let Some(old) = self.by_id.insert(id, prepared) {
            abandon(old.ticket);
        }
    }

    pub fn contains(&self, id: u32) -> bool {
        self.by_id.contains_key(&id)
    }

    pub fn close(&mut self, id: u32) {
        if let Some(p) = self.by_id.remove(&id) {
            abandon(p.ticket);
        }
    }

    pub fn clear(&mut self) {
        for (_, p) in self.by_id.drain() {
            abandon(p.ticket);
        }
    }

    /// The execution of statement `id`, or `None` when Warden never allowed such an id.
    pub async fn execute(&mut self, id: u32) -> Option<Execution> {
        let p = self.by_id.get_mut(&id)?;
        if let Some(t) = p.ticket.take() {
            return Some(Execution::Run(Completion::Ticket(t)));
        }
        let n = p.again.next_execution();
        if p.again.approval_id().is_some() {
            return Some(Execution::Refuse(p.again.refuse_reuse(n).await));
        }
        Some(Execution::Run(Completion::Again(Arc::clone(&p.again), n)))
    }
}

/// Records that an allowed statement was never executed.
pub fn abandon(ticket: Option<Box<Ticket>>) {
    if let Some(t) = ticket {
        tokio::spawn((*t).completed(Outcome {
            error: Some("not executed".into()),
            ..Outcome::default()
        }));
    }
}
