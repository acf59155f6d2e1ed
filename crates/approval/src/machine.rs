//! The pure state machine: one operation applied to one request, yielding the new
//! request and the audit event describing the transition. No I/O, no clock reads.
//!
//! Rules enforced here (and only here): the requester never approves their own
//! request; one person counts once; only entitled people decide; nothing is decided
//! after expiry; an approval is executed once.

use time::OffsetDateTime;
use warden_audit::{ApprovalRef, Event, EventKind, VerdictSummary};
use warden_inspect::Actor;
use warden_policy::ApprovalSpec;

use crate::error::ApprovalError;
use crate::request::{ApprovalRequest, ApprovalState, Decided};

/// One transition request.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Approve { by: Actor, reason: Option<String> },
    Deny { by: Actor, reason: Option<String> },
    Expire,
    Withdraw { reason: String },
    Execute,
}

impl Op {
    /// Transitions that end or refuse a request take effect even when the audit log
    /// cannot record them (fail closed); the others need the audit record first.
    pub(crate) fn proceeds_without_audit(&self) -> bool {
        matches!(self, Op::Deny { .. } | Op::Expire | Op::Withdraw { .. })
    }
}

/// True when `who` may decide on a request governed by `spec`.
pub fn entitled(spec: &ApprovalSpec, who: &Actor) -> bool {
    if spec.approver_users.iter().any(|u| u == &who.name) {
        return true;
    }
    if spec.approver_roles.is_empty() && spec.approver_users.is_empty() {
        return who.roles.iter().any(|r| r == "admin");
    }
    who.roles.iter().any(|r| spec.approver_roles.contains(r))
}

fn wrong_state(req: &ApprovalRequest, expected: &'static str) -> ApprovalError {
    ApprovalError::WrongState {
        id: req.id.clone(),
        state: req.state.as_str().to_string(),
        expected,
    }
}

fn check_decider(
    req: &ApprovalRequest,
    by: &Actor,
    now: OffsetDateTime,
) -> Result<(), ApprovalError> {
    if req.state != ApprovalState::Pending {
        return Err(wrong_state(req, "pending"));
    }
    if now >= req.expires_at {
        return Err(ApprovalError::Expired(req.id.clone()));
    }
    if !entitled(&req.spec, by) {
        return Err(ApprovalError::NotEntitled {
            user: by.name.clone(),
            approvers: req.approvers_description(),
        });
    }
    Ok(())
}

/// Applies `op` to `req` at time `now`. On success `req` is the new state and the
/// returned event records the transition; on error `req` is unchanged.
pub(crate) fn apply(
    req: &mut ApprovalRequest,
    op: &Op,
    now: OffsetDateTime,
) -> Result<Event, ApprovalError> {
    let mut next = req.clone();
    let event = match op {
        Op::Approve { by, reason } => {
            if next.state == ApprovalState::Pending && by.name == next.action.user.name {
                return Err(ApprovalError::SelfApproval(by.name.clone()));
            }
            check_decider(&next, by, now)?;
            if next.approvals.iter().any(|d| d.by == by.name) {
                return Err(ApprovalError::DuplicateApprover(by.name.clone()));
            }
            next.approvals.push(Decided {
                by: by.name.clone(),
                reason: reason.clone(),
                at: now,
            });
            let detail = if next.remaining() == 0 {
                next.state = ApprovalState::Approved;
                next.decided_at = Some(now);
                if next.retry_mode {
                    // The approval may be used by re-sending within one timeout.
                    next.expires_at = now + next.spec.timeout;
                }
                format!(
                    "approved ({} of {})",
                    next.approvals.len(),
                    next.spec.required.max(1)
                )
            } else {
                format!(
                    "approval {} of {} recorded; still pending",
                    next.approvals.len(),
                    next.spec.required.max(1)
                )
            };
            decision_event(
                &next,
                EventKind::ApprovalApproved,
                by,
                reason.clone(),
                detail,
            )
        }
        Op::Deny { by, reason } => {
            check_decider(&next, by, now)?;
            next.state = ApprovalState::Denied;
            next.decided_at = Some(now);
            next.denial = Some(Decided {
                by: by.name.clone(),
                reason: reason.clone(),
                at: now,
            });
            decision_event(
                &next,
                EventKind::ApprovalDenied,
                by,
                reason.clone(),
                "denied".into(),
            )
        }
        Op::Expire => {
            let approved_unused = next.state == ApprovalState::Approved && next.retry_mode;
            if next.state != ApprovalState::Pending && !approved_unused {
                return Err(wrong_state(req, "pending"));
            }
            if now < next.expires_at {
                return Err(wrong_state(req, "past its expiry"));
            }
            next.state = ApprovalState::Expired;
            next.ended_reason = Some(if approved_unused {
                "approved but not re-sent before the approval window closed".into()
            } else {
                format!("no decision within {}s", next.spec.timeout.as_secs())
            });
            machine_event(&next, EventKind::ApprovalExpired)
        }
        Op::Withdraw { reason } => {
            let approved_unused = next.state == ApprovalState::Approved;
            if next.state != ApprovalState::Pending && !approved_unused {
                return Err(wrong_state(req, "pending or approved"));
            }
            next.state = ApprovalState::Withdrawn;
            next.ended_reason = Some(reason.clone());
            machine_event(&next, EventKind::ApprovalWithdrawn)
        }
        Op::Execute => {
            match next.state {
                ApprovalState::Approved => {}
                ApprovalState::Executed => {
                    return Err(ApprovalError::AlreadyExecuted(next.id.clone()))
                }
                _ => return Err(wrong_state(req, "approved")),
            }
            if next.retry_mode && now >= next.expires_at {
                return Err(ApprovalError::Expired(next.id.clone()));
            }
            next.state = ApprovalState::Executed;
            next.executed_at = Some(now);
            let mut ev = machine_event(&next, EventKind::ApprovalExecuted);
            ev.action = Some(next.action.clone());
            ev
        }
    };
    *req = next;
    Ok(event)
}

fn base_event(req: &ApprovalRequest, kind: EventKind) -> Event {
    let mut ev = Event::new(kind);
    ev.target = Some(req.action.target.name.clone());
    ev.protocol = Some(req.action.protocol);
    ev.session = req.action.session.clone();
    ev.verdict = Some(VerdictSummary {
        decision: "hold".into(),
        rules: req.rules.clone(),
        dry_run: Vec::new(),
        message: Some(req.message.clone()),
    });
    ev
}

fn decision_event(
    req: &ApprovalRequest,
    kind: EventKind,
    by: &Actor,
    reason: Option<String>,
    detail: String,
) -> Event {
    let mut ev = base_event(req, kind);
    ev.actor = Some(by.clone());
    ev.approval = Some(ApprovalRef {
        id: req.id.clone(),
        approvers: req.approvers(),
        reason,
    });
    ev.detail = Some(format!("{detail}; requested by {}", req.action.user.name));
    ev
}

pub(crate) fn machine_event(req: &ApprovalRequest, kind: EventKind) -> Event {
    let mut ev = base_event(req, kind);
    ev.actor = Some(req.action.user.clone());
    ev.approval = Some(ApprovalRef {
        id: req.id.clone(),
        approvers: req.approvers(),
        reason: req.ended_reason.clone(),
    });
    ev.detail = req.ended_reason.clone();
    ev
}

/// The event recording a new request.
pub(crate) fn requested_event(req: &ApprovalRequest) -> Event {
    let mut ev = base_event(req, EventKind::ApprovalRequested);
    ev.actor = Some(req.action.user.clone());
    ev.action = Some(req.action.clone());
    ev.approval = Some(ApprovalRef {
        id: req.id.clone(),
        approvers: Vec::new(),
        reason: None,
    });
    ev.detail = Some(format!(
        "needs {} approval(s) from {}; expires {}",
        req.spec.required.max(1),
        req.approvers_description(),
        req.expires_at
    ));
    ev
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(name: &str, roles: &[&str]) -> Actor {
        Actor {
            name: name.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            client_addr: None,
            alerts: Vec::new(),
        }
    }

    #[test]
    fn entitlement_follows_roles_users_and_the_admin_default() {
        let by_role = ApprovalSpec {
            approver_roles: vec!["dba".into()],
            ..ApprovalSpec::default()
        };
        assert!(entitled(&by_role, &who("bob", &["dba"])));
        assert!(
            !entitled(&by_role, &who("root", &["admin"])),
            "admin only when the rule names nobody"
        );
        let by_user = ApprovalSpec {
            approver_users: vec!["carol".into()],
            ..ApprovalSpec::default()
        };
        assert!(entitled(&by_user, &who("carol", &[])));
        assert!(!entitled(&by_user, &who("bob", &["dba"])));
        let nobody = ApprovalSpec::default();
        assert!(entitled(&nobody, &who("root", &["admin"])));
        assert!(!entitled(&nobody, &who("bob", &["dba"])));
    }
}
