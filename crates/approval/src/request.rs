//! The approval request record and its states.
//!
//! This is plain data: it is what sled stores, what the API returns and what the
//! console renders. Transitions live in `approvals.rs`, never here.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use warden_inspect::Action;
use warden_policy::ApprovalSpec;

/// Where a request is in its life.
///
/// pending → approved | denied | expired | withdrawn; approved → executed (once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    Pending,
    Approved,
    Denied,
    Expired,
    Withdrawn,
    Executed,
}

impl ApprovalState {
    pub const ALL: [ApprovalState; 6] = [
        ApprovalState::Pending,
        ApprovalState::Approved,
        ApprovalState::Denied,
        ApprovalState::Expired,
        ApprovalState::Withdrawn,
        ApprovalState::Executed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Approved => "approved",
            ApprovalState::Denied => "denied",
            ApprovalState::Expired => "expired",
            ApprovalState::Withdrawn => "withdrawn",
            ApprovalState::Executed => "executed",
        }
    }

    pub fn parse(s: &str) -> Option<ApprovalState> {
        ApprovalState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// True once nothing can change the request any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ApprovalState::Denied
                | ApprovalState::Expired
                | ApprovalState::Withdrawn
                | ApprovalState::Executed
        )
    }
}

impl std::fmt::Display for ApprovalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One decision by one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decided {
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// One held action waiting for (or past) a human decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    pub id: String,
    pub state: ApprovalState,
    /// The exact action held: raw bytes, user, target, session, facts.
    pub action: Action,
    /// Names of the rules that held it (deciding rule first).
    pub rules: Vec<String>,
    /// Why it was held (the deciding rule's message).
    pub message: String,
    pub spec: ApprovalSpec,
    /// Distinct approvers so far, in order.
    #[serde(default)]
    pub approvals: Vec<Decided>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denial: Option<Decided>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Pending: when it expires. Approved in retry mode: until when the approval may be
    /// used by re-sending the identical action.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub executed_at: Option<OffsetDateTime>,
    /// The client does not wait; the identical action re-sent after approval runs once.
    #[serde(default)]
    pub retry_mode: bool,
    /// Why it was withdrawn or expired, when the machine ended it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_reason: Option<String>,
    /// Fleet mode only: which replica holds the client, who ran it and how it went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<FleetInfo>,
}

/// Where a request lives in a fleet (docs/fleet.md); absent on an embedded store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetInfo {
    /// The replica the request was made on (where a waiting client is connected).
    pub owner: String,
    /// The replica that claimed the approved action to run it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    /// `running`, `completed`, `failed`, or `unknown` (its replica died while running it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_detail: Option<String>,
}

impl ApprovalRequest {
    /// How many more distinct approvals are needed.
    pub fn remaining(&self) -> u32 {
        let have = u32::try_from(self.approvals.len()).unwrap_or(u32::MAX);
        self.spec.required.max(1).saturating_sub(have)
    }

    /// Names of everyone who approved so far.
    pub fn approvers(&self) -> Vec<String> {
        self.approvals.iter().map(|d| d.by.clone()).collect()
    }

    /// Who may decide, for messages: `roles: dba, sre; users: carol` or `role admin`.
    pub fn approvers_description(&self) -> String {
        describe_approvers(&self.spec)
    }
}

/// Human description of who may decide under `spec`.
pub fn describe_approvers(spec: &ApprovalSpec) -> String {
    if spec.approver_roles.is_empty() && spec.approver_users.is_empty() {
        return "role admin".to_string();
    }
    let mut parts = Vec::new();
    if !spec.approver_roles.is_empty() {
        parts.push(format!("roles {}", spec.approver_roles.join(", ")));
    }
    if !spec.approver_users.is_empty() {
        parts.push(format!("users {}", spec.approver_users.join(", ")));
    }
    parts.join("; ")
}

/// How a hold ended, as seen by the holding front-end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Approved { approvers: Vec<String> },
    Denied { by: String, reason: Option<String> },
    Expired,
    Withdrawn,
}
