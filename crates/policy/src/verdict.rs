//! The result of evaluating one Action: a decision plus the reasons for it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What happens to an action. Ordered by restrictiveness: `Allow < Hold < Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Hold,
    Deny,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Hold => "hold",
            Decision::Deny => "deny",
        }
    }
}

/// `enforce` (default) or `dry_run` ("would deny" is audited, the action passes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Enforce,
    DryRun,
}

/// Who may approve a held action, how many, and for how long it may wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalSpec {
    /// Roles whose members may approve (empty: any user with the `admin` role).
    pub approver_roles: Vec<String>,
    /// Named users who may approve, in addition to the roles.
    #[serde(default)]
    pub approver_users: Vec<String>,
    /// How many distinct approvers are needed.
    pub required: u32,
    /// How long the request may stay pending before it expires.
    #[serde(with = "duration_secs")]
    pub timeout: Duration,
    /// `false`: retry mode — refuse at once naming the approval id; the identical
    /// request re-sent by the same user after approval runs once.
    pub wait: bool,
}

impl Default for ApprovalSpec {
    fn default() -> Self {
        ApprovalSpec {
            approver_roles: Vec::new(),
            approver_users: Vec::new(),
            required: 1,
            timeout: Duration::from_secs(15 * 60),
            wait: true,
        }
    }
}

/// One rule that matched the action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleHit {
    pub rule: String,
    /// The policy file the rule came from.
    #[serde(default)]
    pub file: String,
    pub decision: Decision,
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The outcome of evaluating one action against a policy set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The enforced decision (dry-run hits do not count here).
    pub decision: Decision,
    /// Every enforced rule that matched, most restrictive first.
    pub matched: Vec<RuleHit>,
    /// Dry-run rules that matched ("would deny/hold").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<RuleHit>,
    /// The message to show the client: the deciding rule's `message`, or a default.
    pub message: String,
    /// The deciding rule's name (or a built-in default such as `default-unparsed`).
    pub rule: String,
    /// For `Hold`: the merged approval requirements of the holding rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalSpec>,
}

mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs(u64::deserialize(d)?))
    }
}
