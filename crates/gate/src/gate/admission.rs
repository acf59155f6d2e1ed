//! What the Gate answers: [`Admission`] — a [`Ticket`] to forward, a [`Refusal`] to
//! report in the client's protocol, or a [`Held`] to wait on.
//!
//! A `Ticket` is the only permission to forward. It records the outcome when the
//! front-end reports it, and if dropped without one it still records that the outcome
//! is unknown, so the audit log never ends at "allowed" silently. A `Held` dropped
//! before its decision withdraws the approval request (the client went away).

use std::time::Instant;

use warden_approval::{ApprovalError, Resolution};
use warden_audit::{Durability, EventKind, Outcome};
use warden_inspect::Action;
use warden_policy::Verdict;

use super::{action_event, approval_ref, needs_durable_record, Gate};

/// The Gate's answer to one action.
#[derive(Debug)]
pub enum Admission {
    Allow(Ticket),
    Deny(Refusal),
    Hold(Held),
}

/// Why an action does not run. Each protocol maps `kind` to its native error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// A policy rule denied it, or an approver denied the hold.
    Denied,
    /// The approval request expired before enough approvers agreed.
    Expired,
    /// The request was withdrawn (client went away, restart).
    Withdrawn,
    /// Retry mode: an approval was requested; re-send the identical request after it.
    RetryLater,
    /// The audit log could not record the decision: fail closed.
    AuditUnavailable,
    /// Anything else that went wrong inside Warden.
    Internal,
}

/// A refused action: what to tell the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: RefusalKind,
    /// Safe to show the client.
    pub message: String,
    /// The deciding rule (or `audit-unavailable` / `internal`).
    pub rule: String,
    pub approval_id: Option<String>,
    /// Console link of the approval request, when there is one.
    pub url: Option<String>,
}

impl Refusal {
    pub(super) fn denied(v: &Verdict) -> Refusal {
        Refusal {
            kind: RefusalKind::Denied,
            message: v.message.clone(),
            rule: v.rule.clone(),
            approval_id: None,
            url: None,
        }
    }

    pub(super) fn audit_unavailable(v: &Verdict) -> Refusal {
        Refusal {
            kind: RefusalKind::AuditUnavailable,
            message: "Warden cannot record this action in its audit log right now, so it is refused; try again later".into(),
            rule: if v.rule.is_empty() { "audit-unavailable".into() } else { v.rule.clone() },
            approval_id: None,
            url: None,
        }
    }

    pub(super) fn internal(v: &Verdict, what: &str) -> Refusal {
        Refusal {
            kind: RefusalKind::Internal,
            message: format!("refused: {what}"),
            rule: v.rule.clone(),
            approval_id: None,
            url: None,
        }
    }

    pub(super) fn retry_later(v: &Verdict, id: &str, url: &str) -> Refusal {
        Refusal {
            kind: RefusalKind::RetryLater,
            message: format!(
                "{} — approval {id} requested ({url}); re-send the identical request once it is approved",
                v.message
            ),
            rule: v.rule.clone(),
            approval_id: Some(id.to_owned()),
            url: Some(url.to_owned()),
        }
    }

    fn from_hold(kind: RefusalKind, message: String, v: &Verdict, id: &str, url: &str) -> Refusal {
        Refusal {
            kind,
            message,
            rule: v.rule.clone(),
            approval_id: Some(id.to_owned()),
            url: Some(url.to_owned()),
        }
    }
}

/// Permission to forward one action, once. Report the outcome with [`Ticket::completed`].
#[derive(Debug)]
pub struct Ticket {
    // Boxed: a ticket travels inside enums next to small refusals.
    inner: Box<TicketState>,
}

#[derive(Debug)]
struct TicketState {
    gate: Gate,
    action: Action,
    verdict: Verdict,
    approval_id: Option<String>,
    approvers: Vec<String>,
    /// The `ActionDecided` record, or `None` when the decision is recorded together with
    /// the outcome (a read-only allow whose record would only have been queued anyway).
    decided_seq: Option<u64>,
    started: Instant,
    done: bool,
}

impl Ticket {
    pub(super) fn new(
        gate: Gate,
        action: Action,
        verdict: Verdict,
        approval_id: Option<String>,
        decided_seq: Option<u64>,
    ) -> Ticket {
        Ticket {
            inner: Box::new(TicketState {
                gate,
                action,
                verdict,
                approval_id,
                approvers: Vec::new(),
                decided_seq,
                started: Instant::now(),
                done: false,
            }),
        }
    }

    /// Who approved the held action this ticket executes (recorded with the outcome).
    pub(super) fn with_approvers(mut self, approvers: Vec<String>) -> Ticket {
        self.inner.approvers = approvers;
        self
    }

    pub fn verdict(&self) -> &Verdict {
        &self.inner.verdict
    }

    pub fn action(&self) -> &Action {
        &self.inner.action
    }

    /// The approval this ticket executes, when the action was held.
    pub fn approval_id(&self) -> Option<&str> {
        self.inner.approval_id.as_deref()
    }

    /// Sequence number of the `ActionDecided` record; `None` when the decision is
    /// recorded with the outcome, in one record written at completion.
    pub fn decided_seq(&self) -> Option<u64> {
        self.inner.decided_seq
    }

    /// The action, leaving an empty one behind: for the ticket's last record only.
    fn take_action(&mut self) -> Action {
        let empty = Action {
            protocol: self.inner.action.protocol,
            user: Default::default(),
            target: Default::default(),
            session: None,
            raw: String::new(),
            facts: warden_inspect::Facts::None,
        };
        std::mem::replace(&mut self.inner.action, empty)
    }

    /// The outcome record; the last use of the ticket's action (it may be taken).
    fn completion_event(&mut self, mut outcome: Outcome) -> (warden_audit::Event, Durability) {
        if outcome.duration_ms.is_none() {
            outcome.duration_ms =
                Some(u64::try_from(self.inner.started.elapsed().as_millis()).unwrap_or(u64::MAX));
        }
        let d = if needs_durable_record(&self.inner.action, &self.inner.verdict) {
            Durability::Durable
        } else {
            Durability::Queued
        };
        let mut ev = match self.inner.decided_seq {
            Some(seq) => {
                let mut ev = action_event(EventKind::ActionCompleted, &self.inner.action);
                ev.detail = Some(format!("decided at #{seq}"));
                ev
            }
            // The ticket ends here (every caller consumes it): the record takes the
            // action instead of a copy of it.
            None => super::decided_event_owned(self.take_action(), &self.inner.verdict),
        };
        ev.outcome = Some(outcome);
        if let Some(id) = &self.inner.approval_id {
            ev.approval = Some(approval_ref(id, std::mem::take(&mut self.inner.approvers)));
        }
        (ev, d)
    }

    /// Record what happened when the action ran (status, rows, error, duration).
    pub async fn completed(mut self, outcome: Outcome) {
        self.inner.done = true;
        let (ev, d) = self.completion_event(outcome);
        self.inner.gate.inner.stats.completed();
        if let Err(e) = self.inner.gate.inner.audit.append(ev, d).await {
            self.inner.gate.inner.stats.audit_failure();
            tracing::error!(error = %e, "could not audit an action's outcome");
        }
    }
}

impl Ticket {
    /// [`Ticket::completed`] for callers that must not wait (a relay between two
    /// messages): a queued record is submitted at once, without a task of its own; a
    /// durable one, or a queued one while the log is at its in-flight limit, is appended
    /// by a spawned task. Needs a tokio runtime.
    pub fn complete(mut self, outcome: Outcome) {
        self.inner.done = true;
        let (ev, d) = self.completion_event(outcome);
        let gate = self.inner.gate.clone();
        gate.inner.stats.completed();
        gate.append_detached(ev, d, "could not audit an action's outcome");
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.inner.done {
            return;
        }
        let (ev, d) = self.completion_event(Outcome {
            error: Some("no outcome reported (connection ended or front-end error)".into()),
            ..Outcome::default()
        });
        let audit = self.inner.gate.inner.audit.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    if let Err(e) = audit.append(ev, d).await {
                        tracing::error!(error = %e, "could not audit an abandoned ticket");
                    }
                });
            }
            Err(_) => {
                if let Err(e) = audit.append_blocking(ev, d) {
                    tracing::error!(error = %e, "could not audit an abandoned ticket");
                }
            }
        }
    }
}

/// A held action waiting for approvers. Dropping it withdraws the request.
#[derive(Debug)]
pub struct Held {
    pub id: String,
    /// The console page of the request, for the client notice.
    pub url: String,
    state: Box<HeldState>,
}

#[derive(Debug)]
struct HeldState {
    gate: Gate,
    inner: warden_approval::Held,
    action: Action,
    verdict: Verdict,
    decided_seq: u64,
}

/// How a hold ended.
#[derive(Debug)]
pub enum HoldOutcome {
    /// Approved and marked executed: forward exactly the held request, once.
    Approved(Ticket),
    Refused(Refusal),
}

impl Held {
    pub(super) fn new(
        gate: Gate,
        inner: warden_approval::Held,
        action: Action,
        verdict: Verdict,
        decided_seq: u64,
    ) -> Held {
        Held {
            id: inner.id.clone(),
            url: inner.url.clone(),
            state: Box::new(HeldState {
                gate,
                inner,
                action,
                verdict,
                decided_seq,
            }),
        }
    }

    pub fn verdict(&self) -> &Verdict {
        &self.state.verdict
    }

    /// Wait for the decision (no polling). Cancelling this future withdraws the request.
    pub async fn wait(self) -> HoldOutcome {
        let Held { id, url, state } = self;
        let HeldState {
            gate,
            inner,
            action,
            verdict,
            decided_seq,
        } = *state;
        let stats = &gate.inner.stats;
        let refused = |kind, message: String| {
            stats.hold_refused();
            HoldOutcome::Refused(Refusal::from_hold(kind, message, &verdict, &id, &url))
        };
        match inner.wait().await {
            Resolution::Approved { approvers } => {
                match gate.inner.approvals.mark_executed(&id).await {
                    Ok(()) => {
                        stats.hold_approved();
                        let mut ticket = Ticket::new(
                            gate.clone(),
                            action,
                            verdict.clone(),
                            Some(id.clone()),
                            Some(decided_seq),
                        );
                        ticket.inner.approvers = approvers;
                        HoldOutcome::Approved(ticket)
                    }
                    Err(ApprovalError::Expired(_)) => {
                        refused(RefusalKind::Expired, format!("approval {id} expired"))
                    }
                    Err(ApprovalError::Audit(_)) => {
                        stats.audit_failure();
                        refused(
                        RefusalKind::AuditUnavailable,
                        format!("approval {id} was granted but Warden cannot record its execution; refused"),
                    )
                    }
                    Err(e) => refused(
                        RefusalKind::Internal,
                        format!("approval {id} cannot be used: {e}"),
                    ),
                }
            }
            Resolution::Denied { by, reason } => {
                let why = reason.map(|r| format!(": {r}")).unwrap_or_default();
                refused(
                    RefusalKind::Denied,
                    format!("approval {id} denied by {by}{why}"),
                )
            }
            Resolution::Expired => refused(
                RefusalKind::Expired,
                format!("approval {id} expired before enough approvers agreed"),
            ),
            Resolution::Withdrawn => refused(
                RefusalKind::Withdrawn,
                format!("approval {id} was withdrawn"),
            ),
        }
    }
}
