//! Later executions of one allowed prepared statement (PostgreSQL Parse/Execute, MySQL
//! COM_STMT_PREPARE/EXECUTE): the first execution completes the statement's Gate
//! [`Ticket`]; every later one gets its own record, written with the same durability the
//! Gate chose for the decision: an `ActionCompleted` that references the decision
//! (`decided at #N`) for anything that can write or was not understood (durable), and for
//! a read-only allow — whose decision the Gate records together with its first outcome —
//! a self-contained `ActionDecided` carrying the verdict and that execution's outcome
//! (queued).
//!
//! A statement that ran because a person approved it is **single-use**: the approval
//! covers one execution, so a later execution is refused (and audited as refused).
//!
//! Must never let a later execution go without a record, and never let an approval cover
//! more than one execution.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use warden_audit::{ApprovalRef, Durability, EventKind, Outcome, VerdictSummary};
use warden_inspect::Action;

use crate::{action_event, needs_durable_record, Gate, Ticket};

/// What is needed to audit later executions of one allowed prepared statement.
#[derive(Debug)]
pub struct Repeat {
    gate: Gate,
    action: Action,
    /// `None`: the decision was recorded with the first outcome (a read-only allow).
    decided_seq: Option<u64>,
    verdict: VerdictSummary,
    approval_id: Option<String>,
    durability: Durability,
    /// Executions so far (the first one is the ticket's).
    count: AtomicU64,
}

impl Repeat {
    pub fn from_ticket(gate: &Gate, ticket: &Ticket) -> Repeat {
        let durability = if needs_durable_record(ticket.action(), ticket.verdict()) {
            Durability::Durable
        } else {
            Durability::Queued
        };
        Repeat {
            gate: gate.clone(),
            action: ticket.action().clone(),
            decided_seq: ticket.decided_seq(),
            verdict: crate::verdict_summary(ticket.verdict()),
            approval_id: ticket.approval_id().map(str::to_owned),
            durability,
            count: AtomicU64::new(1),
        }
    }

    /// The approval this statement ran under, if a person approved it: such a statement
    /// may run only once.
    pub fn approval_id(&self) -> Option<&str> {
        self.approval_id.as_deref()
    }

    /// Audits (durably) that execution `execution` was refused because the approval
    /// was already used; returns the message for the client.
    pub async fn refuse_reuse(&self, execution: u64) -> String {
        let id = self.approval_id.as_deref().unwrap_or("-");
        let message = format!(
            "approval {id} covered one execution of this statement; prepare it again to request a new approval"
        );
        let mut ev = action_event(EventKind::ActionDecided, &self.action);
        ev.verdict = Some(VerdictSummary {
            decision: "deny".into(),
            rules: Vec::new(),
            dry_run: Vec::new(),
            message: Some(message.clone()),
        });
        ev.detail = Some(format!(
            "{}execution {execution} refused: an approval is single-use",
            self.decided_at()
        ));
        ev.approval = Some(ApprovalRef {
            id: id.to_owned(),
            ..ApprovalRef::default()
        });
        if let Err(e) = self.gate.record(ev, Durability::Durable).await {
            tracing::error!(error = %e, "could not audit a refused re-execution");
        }
        message
    }

    /// Numbers one more execution (2, 3, ...).
    pub fn next_execution(&self) -> u64 {
        self.count.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// `decided at #N; ` when the decision has its own record, else nothing.
    fn decided_at(&self) -> String {
        self.decided_seq
            .map(|seq| format!("decided at #{seq}; "))
            .unwrap_or_default()
    }

    /// Records the outcome of execution `execution` (2, 3, ...) without waiting (see
    /// [`Ticket::complete`]). Needs a tokio runtime.
    pub fn record_now(&self, execution: u64, outcome: Outcome) {
        let ev = self.execution_event(execution, outcome);
        self.gate.append_detached(
            ev,
            self.durability,
            "could not audit the outcome of a later execution",
        );
    }

    /// Records the outcome of execution `execution` (2, 3, ...).
    pub async fn record(self: Arc<Self>, execution: u64, outcome: Outcome) {
        let ev = self.execution_event(execution, outcome);
        if let Err(e) = self.gate.record(ev, self.durability).await {
            tracing::error!(error = %e, "could not audit the outcome of a later execution");
        }
    }

    fn execution_event(&self, execution: u64, outcome: Outcome) -> warden_audit::Event {
        let mut ev = match self.decided_seq {
            Some(_) => action_event(EventKind::ActionCompleted, &self.action),
            None => {
                let mut ev = action_event(EventKind::ActionDecided, &self.action);
                ev.verdict = Some(self.verdict.clone());
                ev.action = Some(self.action.clone());
                ev
            }
        };
        ev.outcome = Some(outcome);
        ev.detail = Some(format!(
            "{}execution {execution} of the prepared statement",
            self.decided_at()
        ));
        if let Some(id) = &self.approval_id {
            ev.approval = Some(ApprovalRef {
                id: id.clone(),
                ..ApprovalRef::default()
            });
        }
        ev
    }
}
