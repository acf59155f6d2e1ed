//! Which of Warden's own users or roles a configuration reload changed, read from the
//! reload record's `detail`.
//!
//! The convention the reload producer writes (any order, `;` or new-line separated,
//! other text ignored):
//!
//! ```text
//! users added: alice, bob; users removed: carol; roles changed: dave, erin
//! ```
//!
//! `role added`/`roles removed`/`role changed` name Warden roles (not users) and count
//! too. A detail without that convention is still read loosely: when it mentions users
//! or roles together with a change word (added, removed, granted ...), it is one change
//! of an unnamed (or `user NAME`) subject. A plain policy reload (`12 rules from ...`)
//! is no change. Pure text work; never fails.

/// One privilege change made by a reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadChange {
    /// The Warden user whose privileges changed, when the detail names one.
    pub user: Option<String>,
    /// What happened, e.g. `user added`, `roles changed`, `role removed: dba`.
    pub what: String,
}

const LABELS: [(&str, &str, bool); 12] = [
    // (label, what, names users)
    ("users added", "user added", true),
    ("user added", "user added", true),
    ("users removed", "user removed", true),
    ("user removed", "user removed", true),
    ("roles changed", "roles changed", true),
    ("user roles changed", "roles changed", true),
    ("role added", "role added", false),
    ("roles added", "role added", false),
    ("role removed", "role removed", false),
    ("roles removed", "role removed", false),
    ("role changed", "role changed", false),
    ("roles modified", "role changed", false),
];

const CHANGE_WORDS: [&str; 10] = [
    "added", "removed", "changed", "granted", "revoked", "promoted", "deleted", "created",
    "modified", "->",
];

/// Every change `detail` reports, in the order written.
pub fn changes(detail: &str) -> Vec<ReloadChange> {
    let mut out = Vec::new();
    for segment in detail.split([';', '\n']) {
        let Some((label, list)) = segment.split_once(':') else {
            continue;
        };
        let label = label.trim().to_ascii_lowercase();
        let Some((_, what, names_users)) = LABELS.iter().find(|(l, _, _)| label.ends_with(l))
        else {
            continue;
        };
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let name = name.split_whitespace().next().unwrap_or(name);
            out.push(if *names_users {
                ReloadChange {
                    user: Some(name.to_string()),
                    what: (*what).to_string(),
                }
            } else {
                ReloadChange {
                    user: None,
                    what: format!("{what}: {name}"),
                }
            });
        }
    }
    if out.is_empty() {
        out.extend(loose(detail));
    }
    out
}

/// A detail that talks about users or roles changing, without the convention.
fn loose(detail: &str) -> Option<ReloadChange> {
    let lower = detail.to_ascii_lowercase();
    let subject = lower.contains("user") || lower.contains("role");
    if !subject || !CHANGE_WORDS.iter().any(|w| lower.contains(w)) {
        return None;
    }
    let words: Vec<&str> = detail.split_whitespace().collect();
    let user = words
        .windows(2)
        .find(|w| w[0].eq_ignore_ascii_case("user"))
        .map(|w| w[1].trim_matches(|c: char| !c.is_alphanumeric() && c != '_' && c != '-'))
        .filter(|u| !u.is_empty())
        .map(str::to_string);
    let mut what: String = detail.chars().take(120).collect();
    if detail.chars().count() > 120 {
        what.push('…');
    }
    Some(ReloadChange { user, what })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_convention_names_each_user() {
        let c = changes("12 rules from p/; users added: alice, bob; roles changed: dave");
        let users: Vec<_> = c.iter().map(|c| c.user.clone().unwrap()).collect();
        assert_eq!(users, ["alice", "bob", "dave"]);
        assert_eq!(c[2].what, "roles changed");
        let r = changes("role added: auditors");
        assert_eq!(r[0].user, None);
        assert_eq!(r[0].what, "role added: auditors");
    }

    #[test]
    fn loose_text_still_counts_and_plain_reloads_do_not() {
        assert!(changes("12 rules from /etc/warden/policies").is_empty());
        assert!(changes("reloaded /etc/warden/roles.yaml").is_empty());
        let c = changes("config reloaded: user mallory granted role admin");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].user.as_deref(), Some("mallory"));
    }
}
