//! The Gate: the one place every front-end asks "what happens to this Action?".
//!
//! ```text
//! let gate: Gate = ctx.gate.clone();          // Clone, cheap (Arc inside)
//! match gate.decide(action).await {           // evaluates policy, writes the audit
//!     Admission::Allow(ticket) => {           //   record (durable for writes), and
//!         /* forward */                       //   for Hold creates the approval request
//!         ticket.completed(outcome).await;    // audits the outcome (status, rows, ...)
//!     }
//!     Admission::Deny(refusal) => {           // refusal.message / refusal.rule / kind
//!         /* native error to client */
//!     }
//!     Admission::Hold(held) => {              // held.id, held.url (console link)
//!         /* notice to client first */
//!         match held.wait().await {           // awaits approve/deny/expiry, no polling;
//!             HoldOutcome::Approved(ticket) => /* forward exactly the held bytes once */,
//!             HoldOutcome::Refused(refusal) => /* refusal.kind: Denied | Expired | ... */,
//!         }                                   // dropping `held` withdraws the request
//!     }
//! }
//! ```
//!
//! Lifecycle of one action: evaluate against the current policy snapshot → append
//! `ActionDecided` durably (the action can write, is denied/held, hit a dry-run rule, or
//! could not be understood) → allow / deny / hold; the ticket's completion appends
//! `ActionCompleted`. A read-only allow, whose decision record would only be queued, is
//! recorded once instead: one `ActionDecided` record carrying the outcome, queued when
//! the ticket completes (or is dropped), after the log's health was checked at decision.
//! A hold becomes an approval request; in retry mode (`approval: { wait: false }`) the
//! client is refused with the approval id and the identical request re-sent after
//! approval runs once.
//!
//! A `Refusal` carries a [`RefusalKind`] so each protocol maps it to its own error
//! (SQLSTATE 42501/57014, HTTP 403/202/503, SSH exit 126).
//!
//! The Gate must never return `Allow` for an action whose audit record failed to write,
//! and never hand out a held action's ticket before the approval is marked executed.

mod admission;
mod durability;
mod stats;

use std::sync::Arc;

use warden_approval::{ApprovalRequest, ApprovalState, Approvals};
use warden_audit::{
    ApprovalRef, AuditLog, Durability, Event, EventKind, TryAppend, VerdictSummary,
};
use warden_inspect::sql::{Dialect, SqlFacts};
use warden_inspect::Action;
use warden_policy::{Decision, PolicyStore, SqlCache, Verdict};

pub use admission::{Admission, Held, HoldOutcome, Refusal, RefusalKind, Ticket};
pub use durability::needs_durable_record;
pub use stats::GateStats;

/// What can go wrong when a front-end records an event through the Gate.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("audit log unavailable: {0}")]
    Audit(#[from] warden_audit::AuditError),
}

struct Inner {
    policies: PolicyStore,
    audit: AuditLog,
    approvals: Approvals,
    sql_cache: Arc<SqlCache>,
    stats: stats::Counters,
    alerts: std::sync::OnceLock<Arc<dyn OpenAlerts>>,
}

/// What the Gate asks behaviour analytics before it evaluates an action: the detectors
/// of the actor's open alerts (policies match on them with `when.user.alerts`). The one
/// narrow view of analytics the Gate has; analytics never calls the Gate.
pub trait OpenAlerts: Send + Sync {
    fn open_detectors(&self, user: &str) -> Vec<String>;
}

/// The decision point every front-end shares. Cheap to clone.
#[derive(Clone)]
pub struct Gate {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate").finish_non_exhaustive()
    }
}

/// The verdict as the audit log records it.
pub fn verdict_summary(v: &Verdict) -> VerdictSummary {
    VerdictSummary {
        decision: v.decision.as_str().to_owned(),
        rules: v.matched.iter().map(|h| h.rule.clone()).collect(),
        dry_run: v.dry_run.iter().map(|h| h.rule.clone()).collect(),
        message: Some(v.message.clone()),
    }
}

/// The `ActionDecided` event of `action` and its verdict.
fn decided_event(action: &Action, verdict: &Verdict) -> Event {
    decided_event_owned(action.clone(), verdict)
}

/// [`decided_event`] taking the action (no copy of it: the statement text, the actor's
/// roles and the target's labels are moved into the record).
fn decided_event_owned(action: Action, verdict: &Verdict) -> Event {
    let mut ev = action_event(EventKind::ActionDecided, &action);
    ev.verdict = Some(verdict_summary(verdict));
    ev.action = Some(action);
    ev
}

/// An event about `action` with actor, target, protocol and session filled in.
pub fn action_event(kind: EventKind, action: &Action) -> Event {
    let mut ev = Event::new(kind);
    ev.actor = Some(action.user.clone());
    ev.target = Some(action.target.name.clone());
    ev.protocol = Some(action.protocol);
    ev.session = action.session.clone();
    ev
}

impl Gate {
    pub fn new(
        policies: PolicyStore,
        audit: AuditLog,
        approvals: Approvals,
        sql_cache: Arc<SqlCache>,
    ) -> Gate {
        Gate {
            inner: Arc::new(Inner {
                policies,
                audit,
                approvals,
                sql_cache,
                stats: stats::Counters::default(),
                alerts: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Install the analytics view (once; later calls are ignored).
    pub fn set_alerts(&self, alerts: Arc<dyn OpenAlerts>) {
        let _ = self.inner.alerts.set(alerts);
    }

    /// Inspect SQL text, cached by (dialect, text): repeated statements skip parsing.
    pub fn sql_facts(&self, text: &str, dialect: Dialect) -> Arc<SqlFacts> {
        self.inner.sql_cache.inspect(text, dialect)
    }

    pub fn audit(&self) -> &AuditLog {
        &self.inner.audit
    }

    pub fn approvals(&self) -> &Approvals {
        &self.inner.approvals
    }

    pub fn policies(&self) -> &PolicyStore {
        &self.inner.policies
    }

    /// Counters for `/metrics`.
    pub fn stats(&self) -> GateStats {
        self.inner.stats.snapshot()
    }

    /// Append a connection/auth/session event for a front-end. Errors mean the audit log
    /// cannot record: the front-end must refuse the connection (fail closed).
    pub async fn record(&self, ev: Event, d: Durability) -> Result<u64, GateError> {
        match self.inner.audit.append(ev, d).await {
            Ok(seq) => Ok(seq),
            Err(e) => {
                self.inner.stats.audit_failure();
                Err(GateError::Audit(e))
            }
        }
    }

    /// Appends `ev` without waiting for it (see [`Ticket::complete`]); a failure is
    /// counted and logged with `what`.
    pub(crate) fn append_detached(&self, ev: Event, d: Durability, what: &'static str) {
        let ev = match d {
            Durability::Queued => match self.inner.audit.try_append_queued(ev) {
                TryAppend::Done(Ok(_)) => return,
                TryAppend::Done(Err(e)) => {
                    self.inner.stats.audit_failure();
                    tracing::error!(error = %e, "{what}");
                    return;
                }
                TryAppend::Full(ev) => *ev,
            },
            Durability::Durable => ev,
        };
        let gate = self.clone();
        tokio::spawn(async move {
            if let Err(e) = gate.inner.audit.append(ev, d).await {
                gate.inner.stats.audit_failure();
                tracing::error!(error = %e, "{what}");
            }
        });
    }

    /// Decide on one action: evaluate, audit, and allow, deny or hold it.
    pub async fn decide(&self, mut action: Action) -> Admission {
        if let Some(alerts) = self.inner.alerts.get() {
            action.user.alerts = alerts.open_detectors(&action.user.name);
        }
        let verdict = self.inner.policies.current().evaluate(&action);
        if !needs_durable_record(&action, &verdict) {
            return self.allow_read(action, verdict);
        }
        let ev = decided_event(&action, &verdict);
        let decided_seq = match self.inner.audit.append(ev, Durability::Durable).await {
            Ok(seq) => seq,
            Err(e) => {
                tracing::error!(error = %e, target = %action.target.name, "audit append failed; refusing the action");
                self.inner.stats.audit_failure();
                return Admission::Deny(Refusal::audit_unavailable(&verdict));
            }
        };
        match verdict.decision {
            Decision::Allow => {
                self.inner.stats.allowed();
                Admission::Allow(Ticket::new(
                    self.clone(),
                    action,
                    verdict,
                    None,
                    Some(decided_seq),
                ))
            }
            Decision::Deny => {
                self.inner.stats.denied();
                Admission::Deny(Refusal::denied(&verdict))
            }
            // Boxed: the hold path (approval store, fleet database, waits) is most of this
            // future's size, and every front-end keeps a decide future per session or
            // request; only held actions pay for the allocation.
            Decision::Hold => Box::pin(self.hold(action, verdict, decided_seq)).await,
        }
    }

    /// A read-only allow (its record would only be queued): one record, written when the
    /// action completes (or its ticket is dropped), carries decision and outcome. The
    /// log's health is checked now, so a failed log still refuses (fail closed).
    fn allow_read(&self, action: Action, verdict: Verdict) -> Admission {
        if let Err(e) = self.inner.audit.check_writable() {
            tracing::error!(error = %e, target = %action.target.name, "audit log unavailable; refusing the action");
            self.inner.stats.audit_failure();
            return Admission::Deny(Refusal::audit_unavailable(&verdict));
        }
        self.inner.stats.allowed();
        Admission::Allow(Ticket::new(self.clone(), action, verdict, None, None))
    }

    async fn hold(&self, action: Action, verdict: Verdict, decided_seq: u64) -> Admission {
        let retry_mode = verdict.approval.as_ref().is_some_and(|s| !s.wait);
        let approvals = &self.inner.approvals;
        if retry_mode {
            match approvals.take_retry_approval(&action).await {
                Ok(Some(req)) => {
                    self.inner.stats.hold_approved();
                    let id = Some(req.id.clone());
                    let ticket = Ticket::new(self.clone(), action, verdict, id, Some(decided_seq));
                    return Admission::Allow(ticket.with_approvers(req.approvers()));
                }
                Ok(None) => {}
                Err(e) => return Admission::Deny(self.approval_failed(&verdict, e)),
            }
            self.inner.stats.retry_later();
            // One pending request per identical action: re-sending before a decision
            // points at the same request instead of filing another.
            if let Some(existing) = pending_identical(approvals, &action) {
                return Admission::Deny(Refusal::retry_later(
                    &verdict,
                    &existing.id,
                    &approvals.url_for(&existing.id),
                ));
            }
            return match approvals.request(&action, &verdict, true).await {
                Ok(held) => Admission::Deny(Refusal::retry_later(&verdict, &held.id, &held.url)),
                Err(e) => Admission::Deny(self.approval_failed(&verdict, e)),
            };
        }
        match approvals.request(&action, &verdict, false).await {
            Ok(inner) => {
                self.inner.stats.held();
                Admission::Hold(Held::new(self.clone(), inner, action, verdict, decided_seq))
            }
            Err(e) => Admission::Deny(self.approval_failed(&verdict, e)),
        }
    }

    fn approval_failed(&self, verdict: &Verdict, e: warden_approval::ApprovalError) -> Refusal {
        tracing::error!(error = %e, "approval request failed; refusing the action");
        if matches!(e, warden_approval::ApprovalError::Audit(_)) {
            self.inner.stats.audit_failure();
            Refusal::audit_unavailable(verdict)
        } else if matches!(e, warden_approval::ApprovalError::Unavailable(_)) {
            // Fleet mode: say why (the message names the database, never a password).
            Refusal::internal(verdict, &e.to_string())
        } else {
            Refusal::internal(verdict, "the approval request could not be created")
        }
    }
}

fn pending_identical(approvals: &Approvals, action: &Action) -> Option<ApprovalRequest> {
    approvals
        .list(Some(ApprovalState::Pending))
        .into_iter()
        .find(|r| {
            r.retry_mode
                && r.action.raw == action.raw
                && r.action.user.name == action.user.name
                && r.action.target.name == action.target.name
                && r.action.protocol == action.protocol
        })
}

/// The approval reference recorded with a completed action that came from a hold.
fn approval_ref(id: &str, approvers: Vec<String>) -> ApprovalRef {
    ApprovalRef {
        id: id.to_owned(),
        approvers,
        reason: None,
    }
}
