//! Role-based access auditing over a window of the audit log (`warden report access`,
//! the console's access report, `GET /api/v1/reports/access`):
//!
//! * attempts by role — allowed / denied / held actions and failed logins per role and
//!   per (role, target);
//! * privilege creep — for each user the roles they hold and which were *used* (a rule
//!   naming the role in `when.user.roles` decided one of their actions, or they approved
//!   or denied a held action as one of its approver roles); holders of `admin` or of an
//!   approver role who never used it; roles with no active user;
//! * sensitive actions — actions decided by a rule marked `sensitive: true`, and privilege
//!   changes, done by human accounts (users without `service: true`).
//!
//! Pure: the caller hands it the accounts and rules as they are now and the records of
//! the window; it never reads the store, never decides and never sees a credential.

mod render;
mod report;
mod tally;
#[cfg(test)]
mod tests;

pub use render::{to_csv, to_text};
pub use report::{
    AccessReport, IdleRole, RoleRow, RoleUse, SensitiveAction, TargetRow, UnusedPrivilege, UserRow,
};
pub use tally::AccessTally;

/// One Warden user as configured now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub roles: Vec<String>,
    /// `service: true` in warden.yaml: a program, not a person.
    pub service: bool,
}

/// What the report needs to know about one rule of the running policy set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFacts {
    pub name: String,
    /// Roles its `when.user.roles` names.
    pub roles: Vec<String>,
    /// For `hold` rules: the approver roles (the default `admin` when it names none).
    pub approver_roles: Vec<String>,
    pub sensitive: bool,
}

/// The accounts and rules the report is read against.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub accounts: Vec<Account>,
    pub rules: Vec<RuleFacts>,
}

/// The role name failed logins of a name no account has are counted under.
pub const UNKNOWN_USER: &str = "(unknown user)";
/// The role name actions of a user holding no role are counted under.
pub const NO_ROLE: &str = "(no role)";
/// Most sensitive actions a report lists (newest kept); `sensitive_total` counts all.
pub const SENSITIVE_LIMIT: usize = 1_000;
