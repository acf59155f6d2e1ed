//! The one error type of the approvals crate.

use thiserror::Error;

/// Why an approval operation was refused or failed.
#[derive(Debug, Error)]
pub enum ApprovalError {
    #[error("approval request {0} not found")]
    NotFound(String),
    #[error("approval request {id} is {state}, not {expected}")]
    WrongState {
        id: String,
        state: String,
        expected: &'static str,
    },
    #[error("approval request {0} has expired")]
    Expired(String),
    #[error("{0} requested this action and cannot approve it")]
    SelfApproval(String),
    #[error("{0} has already approved this request; one person counts once")]
    DuplicateApprover(String),
    #[error("{user} is not entitled to decide on this request (approvers: {approvers})")]
    NotEntitled { user: String, approvers: String },
    #[error("approval request {0} has already been executed; an approval is used once")]
    AlreadyExecuted(String),
    #[error("the verdict carries no approval spec; only held actions can be requested")]
    NoSpec,
    #[error("audit log unavailable: {0}")]
    Audit(String),
    #[error("approval store: {0}")]
    Store(#[from] sled::Error),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("the shared approvals database is unavailable ({0}); actions needing an approval are refused until it is back")]
    Unavailable(String),
    #[error("approval store record is corrupt: {0}")]
    Corrupt(#[from] serde_json::Error),
}

impl ApprovalError {
    /// A stable machine-readable code (API error bodies, metric labels).
    pub fn code(&self) -> &'static str {
        match self {
            ApprovalError::NotFound(_) => "not_found",
            ApprovalError::WrongState { .. } => "wrong_state",
            ApprovalError::Expired(_) => "expired",
            ApprovalError::SelfApproval(_) => "self_approval",
            ApprovalError::DuplicateApprover(_) => "duplicate_approver",
            ApprovalError::NotEntitled { .. } => "not_entitled",
            ApprovalError::AlreadyExecuted(_) => "already_executed",
            ApprovalError::NoSpec => "no_spec",
            ApprovalError::Audit(_) => "audit_unavailable",
            ApprovalError::Store(_) => "store",
            ApprovalError::Internal(_) => "internal",
            ApprovalError::Unavailable(_) => "store_unavailable",
            ApprovalError::Corrupt(_) => "corrupt",
        }
    }
}
