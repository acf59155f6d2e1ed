//! The access report as data (serialised as the JSON API and `--format json`), built
//! from a finished [`AccessTally`]. Sorted so the same window gives the same report.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::tally::AccessTally;

/// Allowed / denied / held actions and failed logins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub allowed: u64,
    pub denied: u64,
    pub held: u64,
    pub failed_logins: u64,
}

impl Counts {
    pub(super) fn add_decision(&mut self, decision: &str) {
        match decision {
            "allow" => self.allowed += 1,
            "deny" => self.denied += 1,
            "hold" => self.held += 1,
            _ => {}
        }
    }
}

/// One role's attempts, in all and per target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleRow {
    pub role: String,
    /// Configured users holding the role now.
    pub holders: Vec<String>,
    /// Of those, the ones with any record in the window.
    pub active_holders: Vec<String>,
    #[serde(flatten)]
    pub counts: Counts,
    pub targets: Vec<TargetRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetRow {
    pub target: String,
    #[serde(flatten)]
    pub counts: Counts,
}

/// One held role of one user and whether the window saw it used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleUse {
    pub role: String,
    pub used: bool,
    pub uses: u64,
    /// `rule NAME` for each rule naming the role that decided their actions, `approval`
    /// when they approved or denied as the role.
    pub via: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserRow {
    pub user: String,
    pub service: bool,
    /// Records with the user as actor in the window.
    pub activity: u64,
    pub roles: Vec<RoleUse>,
}

/// A holder of `admin` or of an approver role who never used it in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnusedPrivilege {
    pub user: String,
    pub role: String,
    pub why: String,
}

/// A role no active user holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdleRole {
    pub role: String,
    pub holders: Vec<String>,
    /// Rules whose `when.user.roles` or approvers name it.
    pub named_by: Vec<String>,
}

/// An action decided by a sensitive rule, or a privilege change, by a human account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SensitiveAction {
    pub seq: u64,
    pub time: String,
    pub user: String,
    pub target: String,
    pub decision: String,
    pub rules: Vec<String>,
    pub sensitive_rules: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privilege_change: Option<String>,
    pub statement: String,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessReport {
    /// RFC 3339 bounds of the window (`None`: open).
    pub since: Option<String>,
    pub until: Option<String>,
    /// Records read in the window.
    pub records: u64,
    pub roles: Vec<RoleRow>,
    pub users: Vec<UserRow>,
    pub unused_privileges: Vec<UnusedPrivilege>,
    pub idle_roles: Vec<IdleRole>,
    /// Newest last; at most [`super::SENSITIVE_LIMIT`].
    pub sensitive_actions: Vec<SensitiveAction>,
    pub sensitive_total: u64,
}

impl AccessReport {
    pub fn build(t: AccessTally<'_>, since: Option<String>, until: Option<String>) -> Self {
        let inputs = t.inputs;
        let mut holders: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for a in &inputs.accounts {
            for r in &a.roles {
                holders.entry(r.as_str()).or_default().push(a.name.clone());
            }
        }
        let mut named_by: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        let mut approver_in: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for rule in &inputs.rules {
            for r in &rule.roles {
                named_by.entry(r).or_default().insert(rule.name.clone());
            }
            for r in &rule.approver_roles {
                named_by.entry(r).or_default().insert(rule.name.clone());
                approver_in.entry(r).or_default().insert(rule.name.clone());
            }
        }
        let is_active = |u: &String| t.active.contains_key(u);
        let mut role_names: BTreeSet<&str> = t.by_role.keys().map(String::as_str).collect();
        role_names.extend(holders.keys());
        let roles = role_names
            .into_iter()
            .map(|role| {
                let h = holders.get(role).cloned().unwrap_or_default();
                let tally = t.by_role.get(role);
                RoleRow {
                    role: role.to_string(),
                    active_holders: h.iter().filter(|u| is_active(u)).cloned().collect(),
                    holders: h,
                    counts: tally.map(|x| x.all).unwrap_or_default(),
                    targets: tally
                        .into_iter()
                        .flat_map(|x| &x.targets)
                        .map(|(target, c)| TargetRow {
                            target: target.clone(),
                            counts: *c,
                        })
                        .collect(),
                }
            })
            .collect();
        let mut users = Vec::new();
        let mut unused_privileges = Vec::new();
        for a in &inputs.accounts {
            let mut roles = Vec::new();
            for role in &a.roles {
                let used = t
                    .used
                    .get(a.name.as_str())
                    .and_then(|m| m.get(role.as_str()));
                let uses = used.map_or(0, |u| u.uses);
                // `approval` first, then `rule NAME` by rule name.
                let via = used
                    .map(|u| {
                        u.approval
                            .then(|| "approval".to_string())
                            .into_iter()
                            .chain(u.rules.iter().map(|r| format!("rule {r}")))
                            .collect()
                    })
                    .unwrap_or_default();
                roles.push(RoleUse {
                    role: role.clone(),
                    used: uses > 0,
                    uses,
                    via,
                });
                if uses > 0 {
                    continue;
                }
                let why = match (role == "admin", approver_in.get(role.as_str())) {
                    (true, _) => {
                        Some("admin: approves holds whose rule names no approvers".to_string())
                    }
                    (false, Some(rules)) => Some(format!(
                        "approver in {}",
                        rules.iter().cloned().collect::<Vec<_>>().join(", ")
                    )),
                    (false, None) => None,
                };
                if let Some(why) = why {
                    unused_privileges.push(UnusedPrivilege {
                        user: a.name.clone(),
                        role: role.clone(),
                        why,
                    });
                }
            }
            users.push(UserRow {
                user: a.name.clone(),
                service: a.service,
                activity: t.active.get(&a.name).copied().unwrap_or(0),
                roles,
            });
        }
        users.sort_by(|a, b| a.user.cmp(&b.user));
        let mut idle: BTreeSet<&str> = holders.keys().copied().collect();
        idle.extend(named_by.keys());
        let idle_roles = idle
            .into_iter()
            .filter(|r| !holders.get(r).is_some_and(|h| h.iter().any(is_active)))
            .map(|r| IdleRole {
                role: r.to_string(),
                holders: holders.get(r).cloned().unwrap_or_default(),
                named_by: named_by
                    .get(r)
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default(),
            })
            .collect();
        AccessReport {
            since,
            until,
            records: t.records,
            roles,
            users,
            unused_privileges,
            idle_roles,
            sensitive_actions: t.sensitive.into_iter().collect(),
            sensitive_total: t.sensitive_total,
        }
    }
}
