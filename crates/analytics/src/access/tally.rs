//! Counting one window's records for the access report. Bounded by users × roles ×
//! targets (plus [`super::SENSITIVE_LIMIT`] listed actions), never by record count; a
//! record whose keys were seen before allocates nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use time::format_description::well_known::Rfc3339;
use warden_audit::{EventKind, Record};
use warden_inspect::Actor;

use super::report::{Counts, SensitiveAction};
use super::{Account, Inputs, RuleFacts, NO_ROLE, SENSITIVE_LIMIT, UNKNOWN_USER};
use crate::record::record_privilege;

/// Longest statement text a sensitive action quotes.
const QUOTE_CHARS: usize = 200;

/// One role's counts, in all and per target.
#[derive(Debug, Default)]
pub(super) struct RoleTally {
    pub all: Counts,
    pub targets: BTreeMap<String, Counts>,
}

/// How one user used one role: how often, through which rules, and whether by
/// approving or denying a held action.
#[derive(Debug, Default)]
pub(super) struct RoleUseTally<'i> {
    pub uses: u64,
    pub rules: BTreeSet<&'i str>,
    pub approval: bool,
}

/// The value under `key`, inserted (and its key allocated) only the first time.
fn slot<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

/// The window's counts, fed one record at a time, oldest first.
#[derive(Debug)]
pub struct AccessTally<'i> {
    pub(super) inputs: &'i Inputs,
    accounts: HashMap<&'i str, &'i Account>,
    rules: HashMap<&'i str, &'i RuleFacts>,
    pub(super) by_role: BTreeMap<String, RoleTally>,
    /// user → role → how they used it.
    pub(super) used: BTreeMap<String, BTreeMap<&'i str, RoleUseTally<'i>>>,
    /// Users with any record as actor in the window → their records.
    pub(super) active: BTreeMap<String, u64>,
    pub(super) sensitive: VecDeque<SensitiveAction>,
    pub(super) sensitive_total: u64,
    pub(super) records: u64,
}

impl<'i> AccessTally<'i> {
    pub fn new(inputs: &'i Inputs) -> AccessTally<'i> {
        AccessTally {
            inputs,
            accounts: inputs
                .accounts
                .iter()
                .map(|a| (a.name.as_str(), a))
                .collect(),
            rules: inputs.rules.iter().map(|r| (r.name.as_str(), r)).collect(),
            by_role: BTreeMap::new(),
            used: BTreeMap::new(),
            active: BTreeMap::new(),
            sensitive: VecDeque::new(),
            sensitive_total: 0,
            records: 0,
        }
    }

    fn count<'r>(
        &mut self,
        roles: impl IntoIterator<Item = &'r str>,
        target: &str,
        bump: impl Fn(&mut Counts),
    ) {
        let mut any = false;
        for role in roles {
            any = true;
            self.count_one(role, target, &bump);
        }
        if !any {
            self.count_one(NO_ROLE, target, &bump);
        }
    }

    fn count_one(&mut self, role: &str, target: &str, bump: &impl Fn(&mut Counts)) {
        let t = slot(&mut self.by_role, role);
        bump(&mut t.all);
        if !target.is_empty() {
            bump(slot(&mut t.targets, target));
        }
    }

    /// Record the roles `actor` used through `rule_names`: the roles a rule names in
    /// `when.user.roles`, or (`approval`) its approver roles.
    fn use_roles(&mut self, actor: &Actor, rule_names: &[String], approval: bool) {
        for name in rule_names {
            let Some(rule) = self.rules.get(name.as_str()).copied() else {
                continue;
            };
            let named = if approval {
                &rule.approver_roles
            } else {
                &rule.roles
            };
            for role in named.iter().filter(|r| actor.roles.contains(r)) {
                let u = slot(&mut self.used, &actor.name)
                    .entry(role.as_str())
                    .or_default();
                u.uses += 1;
                if approval {
                    u.approval = true;
                } else {
                    u.rules.insert(rule.name.as_str());
                }
            }
        }
    }

    fn seen(&mut self, user: &str) {
        *slot(&mut self.active, user) += 1;
    }

    /// Count one record (records outside the window are the caller's to skip).
    pub fn observe(&mut self, rec: &Record) {
        self.records += 1;
        let ev = &rec.event;
        let actor = ev
            .actor
            .as_ref()
            .or_else(|| ev.action.as_ref().map(|a| &a.user));
        let target = ev
            .target
            .as_deref()
            .or_else(|| ev.action.as_ref().map(|a| a.target.name.as_str()))
            .unwrap_or("");
        match ev.kind {
            EventKind::ActionDecided => {
                let (Some(actor), Some(verdict)) = (actor, &ev.verdict) else {
                    return;
                };
                self.seen(&actor.name);
                let decision = verdict.decision.as_str();
                self.count(actor.roles.iter().map(String::as_str), target, |c| {
                    c.add_decision(decision)
                });
                self.use_roles(actor, &verdict.rules, false);
                let sensitive_rules: Vec<String> = verdict
                    .rules
                    .iter()
                    .filter(|n| self.rules.get(n.as_str()).is_some_and(|r| r.sensitive))
                    .cloned()
                    .collect();
                let service = self
                    .accounts
                    .get(actor.name.as_str())
                    .is_some_and(|a| a.service);
                if service {
                    return;
                }
                let privilege = record_privilege(rec).map(|p| p.into_owned());
                if sensitive_rules.is_empty() && privilege.is_none() {
                    return;
                }
                self.sensitive_total += 1;
                if self.sensitive.len() == SENSITIVE_LIMIT {
                    self.sensitive.pop_front();
                }
                let statement = ev
                    .action
                    .as_ref()
                    .map(|a| a.raw.chars().take(QUOTE_CHARS).collect())
                    .unwrap_or_default();
                self.sensitive.push_back(SensitiveAction {
                    seq: rec.seq,
                    time: rec.time.format(&Rfc3339).unwrap_or_default(),
                    user: actor.name.clone(),
                    target: target.to_string(),
                    decision: decision.to_string(),
                    rules: verdict.rules.clone(),
                    sensitive_rules,
                    privilege_change: privilege,
                    statement,
                });
            }
            EventKind::AuthFailed => {
                let name = actor.map(|a| a.name.as_str()).unwrap_or("");
                let bump = |c: &mut Counts| c.failed_logins += 1;
                match self.accounts.get(name).copied() {
                    Some(a) => self.count(a.roles.iter().map(String::as_str), target, bump),
                    None => self.count([UNKNOWN_USER], target, bump),
                }
            }
            EventKind::ApprovalApproved | EventKind::ApprovalDenied => {
                let (Some(actor), Some(verdict)) = (actor, &ev.verdict) else {
                    return;
                };
                self.seen(&actor.name);
                self.use_roles(actor, &verdict.rules, true);
            }
            EventKind::Authenticated | EventKind::SessionStarted => {
                if let Some(a) = actor {
                    self.seen(&a.name);
                }
            }
            _ => {}
        }
    }
}
