//! Prepared statements: COM_STMT_PREPARE is decided on its text (a denial never reaches
//! the upstream); the statement id the upstream returns is remembered with the text,
//! its inspected facts and its parameter state. Every COM_STMT_EXECUTE is then decided
//! again as its own Action — the text with the execute's bound values written in
//! ([`params`](super::params)), the facts of the prepared text — so each execution has
//! its own decision and outcome records, the approvers of a held execution see the
//! values it will run with, and an approval covers exactly that one execute packet.
//!
//! Must never let an execute of an id Warden did not see prepared (and allowed) reach
//! the upstream, and never let an approval cover more than one execution.

use std::collections::HashMap;
use std::sync::Arc;

use warden_audit::Outcome;
use warden_gate::Ticket;
use warden_inspect::sql::SqlFacts;

use super::params::ParamState;
use super::{lexing, named};

/// One prepared statement Warden let through.
pub struct Prepared {
    pub sql: Arc<str>,
    pub facts: Arc<SqlFacts>,
    pub params: ParamState,
    /// [`lexing::changes_session`] of the text, read once at prepare.
    pub changes_session: bool,
    /// [`named::may_bind_names`] of the text, read once at prepare.
    pub binds_names: bool,
}

impl Prepared {
    pub fn new(sql: &str, facts: Arc<SqlFacts>, params: u16) -> Prepared {
        Prepared {
            sql: sql.into(),
            facts,
            params: ParamState::new(params),
            changes_session: lexing::changes_session(sql),
            binds_names: named::may_bind_names(sql),
        }
    }
}

/// The session's prepared statements, by upstream statement id.
#[derive(Default)]
pub struct PreparedStatements {
    by_id: HashMap<u32, Prepared>,
}

impl PreparedStatements {
    pub fn insert(&mut self, id: u32, prepared: Prepared) {
        self.by_id.insert(id, prepared);
    }

    pub fn contains(&self, id: u32) -> bool {
        self.by_id.contains_key(&id)
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut Prepared> {
        self.by_id.get_mut(&id)
    }

    pub fn close(&mut self, id: u32) {
        self.by_id.remove(&id);
    }

    pub fn clear(&mut self) {
        self.by_id.clear();
    }
}

/// Records the outcome on `ticket` without waiting (the session never waits for the
/// log; see `Ticket::complete`).
pub fn finish(ticket: Ticket, outcome: Outcome) {
    ticket.complete(outcome);
}

/// Records that an allowed statement never ran.
pub fn abandon(ticket: Option<Box<Ticket>>) {
    if let Some(t) = ticket {
        finish(
            *t,
            Outcome {
                error: Some("not executed".into()),
                ..Outcome::default()
            },
        );
    }
}
