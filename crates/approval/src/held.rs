//! `Held`: what a front-end awaits while a human decides.
//!
//! Waiting costs one `watch` receiver — no task, no thread, no polling. Dropping a
//! `Held` whose request is still undecided withdraws it: the client went away, so the
//! action must never run later.

use tokio::sync::watch;

use crate::approvals::Approvals;
use crate::machine::Op;
use crate::request::{ApprovalState, Resolution};

/// A pending request some client is waiting on.
pub struct Held {
    pub id: String,
    /// The console page of the request (for the client notice).
    pub url: String,
    approvals: Approvals,
    rx: watch::Receiver<Option<Resolution>>,
    retry_mode: bool,
    resolved: bool,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held")
            .field("id", &self.id)
            .field("url", &self.url)
            .finish()
    }
}

impl Held {
    pub(crate) fn new(
        approvals: Approvals,
        id: String,
        url: String,
        rx: watch::Receiver<Option<Resolution>>,
        retry_mode: bool,
    ) -> Held {
        Held {
            id,
            url,
            approvals,
            rx,
            retry_mode,
            // Retry-mode requests have no waiting client: dropping the handle is normal.
            resolved: retry_mode,
        }
    }

    /// True when the client does not wait (retry mode).
    pub fn retry_mode(&self) -> bool {
        self.retry_mode
    }

    /// Waits for the decision (or expiry). Cancelling this future withdraws the request.
    pub async fn wait(mut self) -> Resolution {
        loop {
            if let Some(r) = self.rx.borrow_and_update().clone() {
                self.resolved = true;
                return r;
            }
            if self.rx.changed().await.is_err() {
                break;
            }
        }
        // The sender is gone without a value: read the stored truth.
        self.resolved = true;
        match self.approvals.get(&self.id).map(|r| r.state) {
            Some(ApprovalState::Approved) => Resolution::Approved {
                approvers: self
                    .approvals
                    .get(&self.id)
                    .map(|r| r.approvers())
                    .unwrap_or_default(),
            },
            Some(ApprovalState::Denied) => {
                let denial = self.approvals.get(&self.id).and_then(|r| r.denial);
                Resolution::Denied {
                    by: denial.as_ref().map(|d| d.by.clone()).unwrap_or_default(),
                    reason: denial.and_then(|d| d.reason),
                }
            }
            Some(ApprovalState::Expired) => Resolution::Expired,
            _ => {
                let _ = self.approvals.withdraw(&self.id).await;
                Resolution::Withdrawn
            }
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.resolved {
            return;
        }
        let approvals = self.approvals.clone();
        let id = std::mem::take(&mut self.id);
        let op = Op::Withdraw {
            reason: "the client went away while waiting".into(),
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    if let Err(e) = approvals.transition(&id, op).await {
                        tracing::debug!(id, error = %e, "withdraw on drop skipped");
                    }
                });
            }
            Err(_) => {
                if let Err(e) = approvals.transition_blocking(&id, op) {
                    tracing::debug!(id, error = %e, "withdraw on drop skipped");
                }
            }
        }
    }
}
