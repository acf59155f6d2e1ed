//! Prepared statements bound to their decisions: COM_STMT_PREPARE is decided on its
//! text; the statement id the upstream returns is remembered with the Gate's ticket.
//! The first COM_STMT_EXECUTE completes that ticket; each later one gets its own record,
//! with the durability the Gate chose for it: an `action_completed` referencing the
//! decision (`decided at #N; execution K`), or — for a read-only allow, whose decision
//! the Gate records together with its first outcome — a self-contained `action_decided`
//! with the verdict and that execution's outcome. A statement that ran because a person
//! approved it is single-use: a later execute is refused and audited as refused.
//!
//! Must never let an execute of an id Warden did not see prepared (and allowed) reach
//! the upstream, and never let an approval cover more than one execution.

use std::collections::HashMap;

use warden_audit::{ApprovalRef, Durability, EventKind, Outcome, VerdictSummary};
use warden_gate::{action_event, needs_durable_record, Gate, Ticket};
use warden_inspect::Action;

/// One allowed prepared statement.
struct Prepared {
    ticket: Option<Box<Ticket>>,
    action: Action,
    /// `None`: the decision is recorded with the first outcome (a read-only allow).
    decided_seq: Option<u64>,
    verdict: VerdictSummary,
    approval_id: Option<String>,
    durability: Durability,
    executions: u64,
}

impl Prepared {
    /// `decided at #N; ` when the decision has its own record, else nothing.
    fn decided_at(&self) -> String {
        self.decided_seq
            .map(|seq| format!("decided at #{seq}; "))
            .unwrap_or_default()
    }
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
    Again(Box<LaterExecution>),
}

/// A later execution of an allowed statement: what its own outcome record needs.
pub struct LaterExecution {
    gate: Gate,
    action: Action,
    /// Set when the record must carry the verdict itself (no separate decision record).
    verdict: Option<VerdictSummary>,
    detail: String,
    durability: Durability,
}

impl Completion {
    /// Records `outcome` in the background (the session never waits for the log).
    pub fn finish(self, outcome: Outcome) {
        match self {
            Completion::Ticket(t) => {
                tokio::spawn((*t).completed(outcome));
            }
            Completion::Again(later) => {
                let LaterExecution {
                    gate,
                    action,
                    verdict,
                    detail,
                    durability,
                } = *later;
                let mut ev = match verdict {
                    None => action_event(EventKind::ActionCompleted, &action),
                    Some(v) => {
                        let mut ev = action_event(EventKind::ActionDecided, &action);
                        ev.verdict = Some(v);
                        ev.action = Some(action);
                        ev
                    }
                };
                ev.outcome = Some(outcome);
                ev.detail = Some(detail);
                tokio::spawn(async move {
                    if let Err(e) = gate.record(ev, durability).await {
                        tracing::error!(error = %e, "could not audit the outcome of an execute");
                    }
                });
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
    pub fn insert(&mut self, id: u32, ticket: Box<Ticket>) {
        let durability = if needs_durable_record(ticket.action(), ticket.verdict()) {
            Durability::Durable
        } else {
            Durability::Queued
        };
        let prepared = Prepared {
            action: ticket.action().clone(),
            decided_seq: ticket.decided_seq(),
            verdict: warden_gate::verdict_summary(ticket.verdict()),
            approval_id: ticket.approval_id().map(str::to_owned),
            durability,
            ticket: Some(ticket),
            executions: 0,
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
    pub async fn execute(&mut self, gate: &Gate, id: u32) -> Option<Execution> {
        let p = self.by_id.get_mut(&id)?;
        p.executions += 1;
        if let Some(t) = p.ticket.take() {
            return Some(Execution::Run(Completion::Ticket(t)));
        }
        if let Some(approval) = &p.approval_id {
            let message = format!(
                "approval {approval} covered one execution of this statement; prepare it again to request a new approval"
            );
            let mut ev = action_event(EventKind::ActionDecided, &p.action);
            ev.verdict = Some(VerdictSummary {
                decision: "deny".into(),
                rules: Vec::new(),
                dry_run: Vec::new(),
                message: Some(message.clone()),
            });
            ev.detail = Some(format!(
                "{}execution {} refused: an approval is single-use",
                p.decided_at(),
                p.executions
            ));
            ev.approval = Some(ApprovalRef {
                id: approval.clone(),
                ..ApprovalRef::default()
            });
            if let Err(e) = gate.record(ev, Durability::Durable).await {
                tracing::error!(error = %e, "could not audit a refused re-execution");
            }
            return Some(Execution::Refuse(message));
        }
        Some(Execution::Run(Completion::Again(Box::new(
            LaterExecution {
                gate: gate.clone(),
                action: p.action.clone(),
                verdict: p.decided_seq.is_none().then(|| p.verdict.clone()),
                detail: format!(
                    "{}execution {} of the prepared statement",
                    p.decided_at(),
                    p.executions
                ),
                durability: p.durability,
            },
        ))))
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
