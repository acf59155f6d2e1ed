//! Evaluate one Action against compiled rules: collect every matching rule, add the
//! built-in defaults for unparsed/opaque input, and let the most restrictive decision
//! win (deny > hold > allow).
//!
//! Fail closed: an unparsed or opaque action gets the configured default (hold unless
//! configured otherwise) unless an enforced rule that explicitly names `unparsed: true`
//! / `opaque: true` matched it — for SQL, one that matched *each* opaque statement of
//! the string (a rule written for one opaque statement must not wave through another
//! one sent along with it). This function must never panic and never do I/O.

use warden_inspect::{Action, Facts};

use crate::prefilter::{Candidate, Summary};
use crate::rule::{
    default_approval, Defaults, Rule, DEFAULT_ALLOW, DEFAULT_OPAQUE, DEFAULT_UNPARSED,
};
use crate::verdict::{ApprovalSpec, Decision, Mode, RuleHit, Verdict};

struct Hit<'a> {
    hit: RuleHit,
    approval: Option<&'a ApprovalSpec>,
}

fn builtin(name: &str, decision: Decision, message: &str) -> RuleHit {
    RuleHit {
        rule: name.to_string(),
        file: String::new(),
        decision,
        mode: Mode::Enforce,
        message: Some(message.to_string()),
    }
}

/// Evaluate `action` against `candidates` (indices into `rules`, in set order).
pub fn evaluate(
    rules: &[Rule],
    candidates: &[Candidate],
    defaults: Defaults,
    action: &Action,
) -> Verdict {
    let mut hits: Vec<Hit> = Vec::new();
    let mut dry_run = Vec::new();
    let mut explicit_unparsed = false;
    let mut explicit_opaque: Vec<&Rule> = Vec::new();
    let summary = Summary::of(action);
    for c in candidates {
        if !c.admits(&summary) {
            continue;
        }
        let Some(rule) = rules.get(c.index as usize) else {
            continue;
        };
        if !rule.matches(action) {
            continue;
        }
        let hit = RuleHit {
            rule: rule.info.name.clone(),
            file: rule.info.file.clone(),
            decision: rule.info.action,
            mode: rule.info.mode,
            message: rule.info.message.clone(),
        };
        if rule.info.mode == Mode::DryRun {
            dry_run.push(hit);
            continue;
        }
        explicit_unparsed |= rule.when.names_unparsed();
        if rule.when.names_opaque() {
            explicit_opaque.push(rule);
        }
        hits.push(Hit {
            hit,
            approval: rule.info.approval.as_ref(),
        });
    }
    if action.unparsed() && !explicit_unparsed && defaults.unparsed != Decision::Allow {
        hits.push(Hit {
            hit: builtin(
                DEFAULT_UNPARSED,
                defaults.unparsed,
                "the request could not be understood, so the default policy does not let it through unreviewed",
            ),
            approval: None,
        });
    }
    if action.opaque()
        && defaults.opaque != Decision::Allow
        && !opaque_covered(&explicit_opaque, action)
    {
        hits.push(Hit {
            hit: builtin(
                DEFAULT_OPAQUE,
                defaults.opaque,
                "the request's effect cannot be known in advance, so the default policy does not let it through unreviewed",
            ),
            approval: None,
        });
    }
    // Stable: among equally restrictive rules, set order (file order) decides.
    hits.sort_by_key(|h| std::cmp::Reverse(h.hit.decision));
    let Some(first) = hits.first() else {
        return Verdict {
            decision: Decision::Allow,
            matched: Vec::new(),
            dry_run,
            message: "allowed: no rule matched".to_string(),
            rule: DEFAULT_ALLOW.to_string(),
            approval: None,
        };
    };
    let decision = first.hit.decision;
    let rule = first.hit.rule.clone();
    let message = first
        .hit
        .message
        .clone()
        .unwrap_or_else(|| format!("{} by rule {rule}", decision.as_str()));
    let approval = (decision == Decision::Hold).then(|| {
        merge_approvals(
            hits.iter()
                .filter(|h| h.hit.decision == Decision::Hold)
                .map(|h| h.approval.cloned().unwrap_or_else(default_approval)),
        )
    });
    Verdict {
        decision,
        matched: hits.into_iter().map(|h| h.hit).collect(),
        dry_run,
        message,
        rule,
        approval,
    }
}

/// Whether the enforced rules that matched `action` and explicitly name `opaque: true`
/// decide every opaque part of it. SQL: each opaque statement, taken alone, must be
/// matched by one of them. Other protocols are opaque as a whole, so any such rule does.
fn opaque_covered(explicit: &[&Rule], action: &Action) -> bool {
    if explicit.is_empty() {
        return false;
    }
    let Facts::Sql(facts) = &action.facts else {
        return true;
    };
    if facts.statements.len() <= 1 {
        return true;
    }
    facts.statements.iter().filter(|st| st.opaque).all(|st| {
        let mut alone = action.clone();
        let mut one = warden_inspect::sql::SqlFacts::clone(facts);
        one.statements = vec![st.clone()];
        alone.facts = Facts::Sql(one.into());
        explicit.iter().any(|r| r.matches(&alone))
    })
}

/// Merge the approval specs of several holding rules into the strictest one: approvers
/// are the union of roles and users, `required` the largest, `timeout` the shortest, and
/// `wait` is false if any rule asks for retry mode (its clients cannot wait).
pub fn merge_approvals(specs: impl Iterator<Item = ApprovalSpec>) -> ApprovalSpec {
    let mut merged: Option<ApprovalSpec> = None;
    for s in specs {
        let Some(m) = merged.as_mut() else {
            merged = Some(s);
            continue;
        };
        for r in s.approver_roles {
            if !m.approver_roles.contains(&r) {
                m.approver_roles.push(r);
            }
        }
        for u in s.approver_users {
            if !m.approver_users.contains(&u) {
                m.approver_users.push(u);
            }
        }
        m.required = m.required.max(s.required);
        m.timeout = m.timeout.min(s.timeout);
        m.wait &= s.wait;
    }
    merged.unwrap_or_else(default_approval)
}
