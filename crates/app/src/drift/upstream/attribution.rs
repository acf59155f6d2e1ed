//! Which catalog changes Warden saw being made: the schema-changing statements the
//! audit chain recorded on a target since a given time, and whether one of them names
//! the object a [`Change`] is about.
//!
//! A statement counts when it was decided `allow` or `hold` (a held one runs only once
//! approved) and is of a kind that can change schema or privileges (create, alter,
//! drop, grant, revoke, role, other). It explains a table change when its objects name
//! the table (`orders` or `public.orders`), and a role change when its objects or its
//! text name the role. Must never read more than [`MAX_RECORDS`] records per poll, and
//! never treat a denied statement as having run.

use time::OffsetDateTime;
use warden_audit::{AuditLog, EventKind, Query, Record};
use warden_inspect::sql::StatementKind;
use warden_inspect::Facts;

use super::catalog::Subject;
use super::compare::Change;

/// The most records one poll reads back.
pub const MAX_RECORDS: usize = 200_000;

/// One audited statement that could have changed schema or privileges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audited {
    pub kind: StatementKind,
    pub objects: Vec<String>,
    pub raw_lower: String,
}

fn schema_changing(kind: StatementKind) -> bool {
    use StatementKind::*;
    matches!(kind, Create | Alter | Drop | Grant | Revoke | Role | Other)
}

fn statements_of(rec: &Record, out: &mut Vec<Audited>) {
    if rec
        .event
        .verdict
        .as_ref()
        .is_some_and(|v| v.decision == "deny")
    {
        return;
    }
    let Some(action) = &rec.event.action else {
        return;
    };
    let Facts::Sql(facts) = &action.facts else {
        return;
    };
    let raw_lower = action.raw.to_lowercase();
    for s in &facts.statements {
        if schema_changing(s.kind) {
            out.push(Audited {
                kind: s.kind,
                objects: s.objects.clone(),
                raw_lower: raw_lower.clone(),
            });
        }
    }
}

/// The schema-changing statements recorded on `target` at or after `since` (blocking:
/// call on the blocking pool). A completion that points back at its decision (`decided
/// at #N`, a held statement run later) brings that decision's statements in.
pub fn audited_since(
    audit: &AuditLog,
    target: &str,
    since: OffsetDateTime,
) -> Result<Vec<Audited>, String> {
    let mut out = Vec::new();
    let mut after = None;
    let mut read = 0usize;
    loop {
        let q = Query {
            since: Some(since),
            target: Some(target.to_string()),
            after,
            limit: warden_audit::query::MAX_LIMIT,
            ..Query::default()
        };
        let page = audit.query(&q).map_err(|e| e.to_string())?;
        for rec in &page.records {
            match rec.event.kind {
                EventKind::ActionDecided => statements_of(rec, &mut out),
                EventKind::ActionCompleted => {
                    let decided = rec
                        .event
                        .detail
                        .as_deref()
                        .and_then(|d| d.strip_prefix("decided at #"))
                        .and_then(|n| n.parse::<u64>().ok());
                    if let Some(Ok(Some(d))) = decided.map(|seq| audit.get(seq)) {
                        statements_of(&d, &mut out);
                    }
                }
                _ => {}
            }
        }
        read += page.records.len();
        match page.next {
            Some(next) if read < MAX_RECORDS => after = Some(next),
            _ => return Ok(out),
        }
    }
}

/// `name` as a whole word of `text` (both lower case).
fn names_word(text: &str, name: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    text.match_indices(name).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + name.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// Whether one of `audited` explains `change`.
pub fn explained(change: &Change, audited: &[Audited]) -> bool {
    audited.iter().any(|a| match &change.subject {
        Subject::Table { schema, name } => {
            let qualified = format!("{schema}.{name}");
            a.kind != StatementKind::Role
                && a.objects.iter().any(|o| *o == *name || *o == qualified)
        }
        Subject::Roles(roles) => {
            matches!(
                a.kind,
                StatementKind::Role
                    | StatementKind::Grant
                    | StatementKind::Revoke
                    | StatementKind::Other
            ) && roles.iter().any(|r| {
                a.objects.iter().any(|o| o == r) || names_word(&a.raw_lower, &r.to_lowercase())
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_change() -> Change {
        Change {
            text: "table public.orders: column discount added (numeric)".into(),
            subject: Subject::Table {
                schema: "public".into(),
                name: "orders".into(),
            },
        }
    }

    fn audited(kind: StatementKind, objects: &[&str], raw: &str) -> Audited {
        Audited {
            kind,
            objects: objects.iter().map(|s| s.to_string()).collect(),
            raw_lower: raw.to_lowercase(),
        }
    }

    #[test]
    fn a_statement_naming_the_table_explains_its_change() {
        let c = table_change();
        assert!(explained(
            &c,
            &[audited(StatementKind::Alter, &["orders"], "")]
        ));
        assert!(explained(
            &c,
            &[audited(StatementKind::Alter, &["public.orders"], "")]
        ));
        assert!(!explained(
            &c,
            &[audited(StatementKind::Alter, &["orders_archive"], "")]
        ));
        assert!(!explained(&c, &[]));
    }

    #[test]
    fn a_role_statement_naming_the_role_explains_its_change() {
        let c = Change {
            text: "role mallory added (login)".into(),
            subject: Subject::Roles(vec!["mallory".into()]),
        };
        let create = audited(StatementKind::Role, &[], "CREATE ROLE mallory LOGIN");
        assert!(explained(&c, &[create]));
        let other = audited(StatementKind::Role, &[], "CREATE ROLE mallory2 LOGIN");
        assert!(!explained(&c, &[other]));
    }
}
