//! Counting one window's records for the access report. Bounded by users × roles ×
//! targets (plus [`super::SENSITIVE_LIMIT`] listed actions), never by record count.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use time::format_description::well_known::Rfc3339;
use warden_audit::{EventKind, Record};

use super::report::{Counts, SensitiveAction};
use super::{Inputs, NO_ROLE, SENSITIVE_LIMIT, UNKNOWN_USER};
use crate::record::observe_record;

/// Longest statement text a sensitive action quotes.
const QUOTE_CHARS: usize = 200;

/// The window's counts, fed one record at a time, oldest first.
#[derive(Debug)]
pub struct AccessTally<'i> {
    pub(super) inputs: &'i Inputs,
    rules: HashMap<&'i str, usize>,
    pub(super) by_role: BTreeMap<String, Counts>,
    pub(super) by_role_target: BTreeMap<(String, String), Counts>,
    /// (user, role) → (uses, how: rule names or `approved`).
    pub(super) used: BTreeMap<(String, String), (u64, BTreeSet<String>)>,
    /// Users with any record as actor in the window → their records.
    pub(super) active: BTreeMap<String, u64>,
    pub(super) sensitive: VecDeque<SensitiveAction>,
    pub(super) sensitive_total: u64,
    pub(super) records: u64,
}

impl<'i> AccessTally<'i> {
    pub fn new(inputs: &'i Inputs) -> AccessTally<'i> {
        let rules = inputs
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name.as_str(), i))
            .collect();
        AccessTally {
            inputs,
            rules,
            by_role: BTreeMap::new(),
            by_role_target: BTreeMap::new(),
            used: BTreeMap::new(),
            active: BTreeMap::new(),
            sensitive: VecDeque::new(),
            sensitive_total: 0,
            records: 0,
        }
    }

    fn account_roles(&self, user: &str) -> Option<&'i [String]> {
        self.inputs
            .accounts
            .iter()
            .find(|a| a.name == user)
            .map(|a| a.roles.as_slice())
    }

    fn is_service(&self, user: &str) -> bool {
        self.inputs
            .accounts
            .iter()
            .any(|a| a.name == user && a.service)
    }

    fn count(&mut self, roles: &[String], target: &str, bump: impl Fn(&mut Counts)) {
        let none = [NO_ROLE.to_string()];
        let roles = if roles.is_empty() { &none[..] } else { roles };
        for role in roles {
            bump(self.by_role.entry(role.clone()).or_default());
            if target.is_empty() {
                continue;
            }
            let key = (role.clone(), target.to_string());
            bump(self.by_role_target.entry(key).or_default());
        }
    }

    fn use_role(&mut self, user: &str, role: &str, how: &str) {
        let e = self
            .used
            .entry((user.to_string(), role.to_string()))
            .or_default();
        e.0 += 1;
        e.1.insert(how.to_string());
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
                *self.active.entry(actor.name.clone()).or_default() += 1;
                let decision = verdict.decision.as_str();
                self.count(&actor.roles, target, |c| c.add_decision(decision));
                let mut sensitive_rules = Vec::new();
                for name in &verdict.rules {
                    let Some(&i) = self.rules.get(name.as_str()) else {
                        continue;
                    };
                    let rule = &self.inputs.rules[i];
                    if rule.sensitive {
                        sensitive_rules.push(name.clone());
                    }
                    for role in rule.roles.iter().filter(|r| actor.roles.contains(r)) {
                        self.use_role(&actor.name, role, &format!("rule {name}"));
                    }
                }
                let privilege = observe_record(rec).privilege.map(|p| p.into_owned());
                if (!sensitive_rules.is_empty() || privilege.is_some())
                    && !self.is_service(&actor.name)
                {
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
            }
            EventKind::AuthFailed => {
                let name = actor.map(|a| a.name.as_str()).unwrap_or("");
                let roles = match self.account_roles(name) {
                    Some(r) => r.to_vec(),
                    None => vec![UNKNOWN_USER.to_string()],
                };
                self.count(&roles, target, |c| c.failed_logins += 1);
            }
            EventKind::ApprovalApproved | EventKind::ApprovalDenied => {
                let (Some(actor), Some(verdict)) = (actor, &ev.verdict) else {
                    return;
                };
                *self.active.entry(actor.name.clone()).or_default() += 1;
                for name in &verdict.rules {
                    let Some(&i) = self.rules.get(name.as_str()) else {
                        continue;
                    };
                    let rule = &self.inputs.rules[i];
                    for role in rule
                        .approver_roles
                        .iter()
                        .filter(|r| actor.roles.contains(r))
                    {
                        self.use_role(&actor.name, role, "approval");
                    }
                }
            }
            EventKind::Authenticated | EventKind::SessionStarted => {
                if let Some(a) = actor {
                    *self.active.entry(a.name.clone()).or_default() += 1;
                }
            }
            _ => {}
        }
    }
}
