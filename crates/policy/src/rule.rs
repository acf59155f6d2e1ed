//! A compiled rule and the description of it that the console and CLI show.

use serde::Serialize;

use crate::condition::Condition;
use crate::verdict::{ApprovalSpec, Decision, Mode};

/// What the console and `warden policy explain` show about a rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleInfo {
    pub name: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub action: Decision,
    pub mode: Mode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For `hold` rules: who approves (the default spec when the rule gives none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalSpec>,
    /// `sensitive: true`: the access report lists what this rule decided for human
    /// (non-service) accounts.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    /// The roles the rule's `when.user.roles` names: a user holding one of them *used*
    /// it when this rule decided their action (access report, privilege creep).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// One compiled rule: it matches when `when` holds and `unless` does not.
#[derive(Debug, Clone)]
pub struct Rule {
    pub info: RuleInfo,
    pub when: Condition,
    pub unless: Option<Condition>,
}

impl Rule {
    pub fn matches(&self, action: &warden_inspect::Action) -> bool {
        self.when.matches(action) && !self.unless.as_ref().is_some_and(|u| u.matches(action))
    }
}

/// What happens to actions that could not be understood (`unparsed`) or whose effect
/// cannot be known (`opaque`) when no rule explicitly decides them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Defaults {
    pub unparsed: Decision,
    pub opaque: Decision,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            unparsed: Decision::Hold,
            opaque: Decision::Hold,
        }
    }
}

/// Name of the built-in rule deciding unparsed actions.
pub const DEFAULT_UNPARSED: &str = "default-unparsed";
/// Name of the built-in rule deciding opaque actions.
pub const DEFAULT_OPAQUE: &str = "default-opaque";
/// Name reported when nothing matched and the action is allowed.
pub const DEFAULT_ALLOW: &str = "default-allow";

/// The approval spec used for holds that do not name approvers: role `admin`.
pub fn default_approval() -> ApprovalSpec {
    ApprovalSpec {
        approver_roles: vec!["admin".into()],
        ..ApprovalSpec::default()
    }
}
