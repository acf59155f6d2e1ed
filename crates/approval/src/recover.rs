//! What an embedded store's requests become when `warden serve` starts again.
//!
//! Wait-mode requests (pending or approved, not executed) are withdrawn: the client
//! that waited is gone. Retry-mode requests survive (the client re-sends), unless past
//! their expiry, or unless the process died between storing a request and recording
//! its `approval_requested` record (`Approvals::request` stores first): a request the
//! audit log never named is withdrawn, never approved.
//!
//! This module must never keep a request it cannot show was announced, and never end
//! one without a transition (and so its audit record).

use time::OffsetDateTime;
use warden_audit::Query;

use crate::approvals::{lock, Approvals};
use crate::error::ApprovalError;
use crate::machine::Op;
use crate::request::{ApprovalRequest, ApprovalState};

const RESTART_REASON: &str = "warden restarted; the client that was waiting is gone";
const UNANNOUNCED_REASON: &str = "warden stopped before the request was recorded in the audit log";

impl Approvals {
    /// Ends what cannot survive a restart; returns the live retry-mode requests, which
    /// need expiry timers.
    pub(crate) fn recover(&self) -> Result<Vec<ApprovalRequest>, ApprovalError> {
        let now = OffsetDateTime::now_utc();
        let mut live = Vec::new();
        for req in self.inner.store.all() {
            let op = match (req.state, req.retry_mode) {
                (ApprovalState::Pending | ApprovalState::Approved, false) => Op::Withdraw {
                    reason: RESTART_REASON.into(),
                },
                (ApprovalState::Pending | ApprovalState::Approved, true)
                    if now >= req.expires_at =>
                {
                    Op::Expire
                }
                (ApprovalState::Pending, true) if !self.announced(&req) => Op::Withdraw {
                    reason: UNANNOUNCED_REASON.into(),
                },
                (ApprovalState::Pending, true) => {
                    self.inner
                        .stats
                        .entered(ApprovalState::Withdrawn, ApprovalState::Pending);
                    live.push(req);
                    continue;
                }
                (ApprovalState::Approved, true) => {
                    lock(&self.inner.retry_ready).insert(req.id.clone());
                    live.push(req);
                    continue;
                }
                _ => continue,
            };
            self.transition_blocking(&req.id, op)?;
        }
        Ok(live)
    }

    /// Whether the audit log holds a record naming `req` (its `approval_requested`),
    /// searched among its user's records since a little before it was made. A search
    /// that cannot finish (scan budget, read error) counts as announced: the request
    /// then lives on as before this check existed, and its expiry still ends it.
    fn announced(&self, req: &ApprovalRequest) -> bool {
        let q = Query {
            since: Some(req.created_at - time::Duration::seconds(5)),
            user: Some(req.action.user.name.clone()),
            text: Some(req.id.clone()),
            limit: 1,
            ..Query::default()
        };
        match self.inner.audit.query(&q) {
            Ok(page) => !page.records.is_empty() || page.next.is_some(),
            Err(e) => {
                tracing::warn!(id = %req.id, error = %e, "could not search the audit log for an approval request; keeping it");
                true
            }
        }
    }
}
