//! Two fingerprints → the list of what changed, each change one sentence naming the
//! object exactly (`table public.orders: column discount added (numeric)`), with the
//! subject it is about for attribution.
//!
//! A table that appeared or vanished is one change: its columns, indexes and grants are
//! not listed again. Must never report a change for facts that are equal.

use std::collections::BTreeSet;

use super::catalog::{Fact, FactKind, Fingerprint, Subject};

/// One change between two fingerprints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub text: String,
    pub subject: Subject,
}

fn added(key: &str, f: &Fact) -> String {
    match f.kind {
        FactKind::Grant => granted(key, "granted to"),
        FactKind::Membership => format!("{key}: granted"),
        _ if f.value.is_empty() => format!("{key} added"),
        _ => format!("{key} added ({})", f.value),
    }
}

fn removed(key: &str, f: &Fact) -> String {
    match f.kind {
        FactKind::Grant => granted(key, "revoked from"),
        FactKind::Membership => format!("{key}: revoked"),
        FactKind::Table | FactKind::Column | FactKind::Index | FactKind::Role => {
            format!("{key} dropped")
        }
    }
}

/// `table s.t: SELECT to bob` → `table s.t: SELECT granted to bob`.
fn granted(key: &str, verb: &str) -> String {
    match key.rsplit_once(" to ") {
        Some((head, grantee)) => format!("{head} {verb} {grantee}"),
        None => key.to_string(),
    }
}

fn changed(key: &str, old: &Fact, new: &Fact) -> String {
    let show = |v: &str| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.to_string()
        }
    };
    format!(
        "{key} changed ({} → {})",
        show(&old.value),
        show(&new.value)
    )
}

/// What changed from `old` to `new`, in key order.
pub fn changes(old: &Fingerprint, new: &Fingerprint) -> Vec<Change> {
    // Tables that appeared or vanished: their parts are not listed one by one.
    let whole: BTreeSet<&Subject> = old
        .facts
        .iter()
        .filter(|(k, f)| f.kind == FactKind::Table && !new.facts.contains_key(*k))
        .chain(
            new.facts
                .iter()
                .filter(|(k, f)| f.kind == FactKind::Table && !old.facts.contains_key(*k)),
        )
        .map(|(_, f)| &f.subject)
        .collect();
    let part_of_whole = |f: &Fact| f.kind != FactKind::Table && whole.contains(&f.subject);
    let mut out = Vec::new();
    for (key, f) in &old.facts {
        if part_of_whole(f) {
            continue;
        }
        let text = match new.facts.get(key) {
            None => removed(key, f),
            Some(n) if n.value != f.value => changed(key, f, n),
            Some(_) => continue,
        };
        out.push(Change {
            text,
            subject: f.subject.clone(),
        });
    }
    for (key, f) in &new.facts {
        if old.facts.contains_key(key) || part_of_whole(f) {
            continue;
        }
        out.push(Change {
            text: added(key, f),
            subject: f.subject.clone(),
        });
    }
    out.sort_by(|a, b| a.text.cmp(&b.text));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(facts: &[(&str, FactKind, &str)]) -> Fingerprint {
        let mut out = Fingerprint::default();
        for (key, kind, value) in facts {
            let subject = if key.starts_with("role ") {
                Subject::Roles(vec!["bob".into()])
            } else {
                Subject::Table {
                    schema: "public".into(),
                    name: key
                        .trim_start_matches("table public.")
                        .split(':')
                        .next()
                        .unwrap_or("")
                        .into(),
                }
            };
            out.facts.insert(
                key.to_string(),
                Fact {
                    kind: *kind,
                    subject,
                    value: value.to_string(),
                },
            );
        }
        out
    }

    #[test]
    fn each_change_names_its_object() {
        let old = fp(&[
            ("table public.orders", FactKind::Table, "table"),
            (
                "table public.orders: column id",
                FactKind::Column,
                "integer",
            ),
            (
                "table public.orders: column qty",
                FactKind::Column,
                "integer",
            ),
            ("table public.orders: SELECT to bob", FactKind::Grant, ""),
            ("role bob", FactKind::Role, "login"),
        ]);
        let new = fp(&[
            ("table public.orders", FactKind::Table, "table"),
            (
                "table public.orders: column id",
                FactKind::Column,
                "integer",
            ),
            (
                "table public.orders: column qty",
                FactKind::Column,
                "bigint",
            ),
            (
                "table public.orders: column discount",
                FactKind::Column,
                "numeric",
            ),
            ("role bob", FactKind::Role, "login, superuser"),
        ]);
        let texts: Vec<String> = changes(&old, &new).into_iter().map(|c| c.text).collect();
        assert_eq!(
            texts,
            vec![
                "role bob changed (login → login, superuser)",
                "table public.orders: SELECT revoked from bob",
                "table public.orders: column discount added (numeric)",
                "table public.orders: column qty changed (integer → bigint)",
            ]
        );
        assert!(changes(&new, &new).is_empty());
    }

    #[test]
    fn a_new_table_is_one_change() {
        let old = fp(&[]);
        let new = fp(&[
            ("table public.audit_x", FactKind::Table, "table"),
            (
                "table public.audit_x: column id",
                FactKind::Column,
                "integer",
            ),
        ]);
        let texts: Vec<String> = changes(&old, &new).into_iter().map(|c| c.text).collect();
        assert_eq!(texts, vec!["table public.audit_x added (table)"]);
        let back: Vec<String> = changes(&new, &old).into_iter().map(|c| c.text).collect();
        assert_eq!(back, vec!["table public.audit_x dropped"]);
    }
}
