//! Cheap necessary conditions of a rule's `when` block, computed once when a set is
//! compiled and checked against a summary of the action computed once per evaluation,
//! so that most of a large set is skipped without touching its rules.
//!
//! A prefilter only ever *skips work*: it must never reject a rule that could match.
//! Every condition here is implied by `Condition::matches` (the property test below
//! checks that against the real matcher); when in doubt a field is left at "no need".

use warden_inspect::sql::SqlFacts;
use warden_inspect::{Action, Facts};

use crate::condition::kind_bit;
use crate::rule::Rule;

/// Some statement has no WHERE (UPDATE/DELETE) / some statement is not so.
const ANY_WITHOUT_WHERE: u8 = 1 << 0;
const ANY_WITH_WHERE: u8 = 1 << 1;
/// Some statement is opaque / some statement is not.
const ANY_OPAQUE: u8 = 1 << 2;
const ANY_TRANSPARENT: u8 = 1 << 3;
/// The SQL string is unparsed / parsed.
const UNPARSED: u8 = 1 << 4;
const PARSED: u8 = 1 << 5;

/// What one action offers, in the same terms as [`Candidate`]'s needs.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Every statement kind, nested ones included.
    sql_kinds: u64,
    sql_flags: u8,
    /// One bit per role name of the user (a 64-bit Bloom filter).
    roles: u64,
}

impl Summary {
    pub fn of(action: &Action) -> Summary {
        let (sql_kinds, sql_flags) = match &action.facts {
            Facts::Sql(f) => sql_summary(f),
            // Non-SQL actions offer everything: SQL needs never reject them here (the
            // per-protocol candidate lists and the matcher do).
            _ => (u64::MAX, u8::MAX),
        };
        let roles = action.user.roles.iter().fold(0, |m, r| m | role_bit(r));
        Summary {
            sql_kinds,
            sql_flags,
            roles,
        }
    }
}

fn sql_summary(f: &SqlFacts) -> (u64, u8) {
    let mut kinds = 0u64;
    let mut flags = if f.unparsed { UNPARSED } else { PARSED };
    for st in &f.statements {
        kinds |= kind_bit(st.kind);
        for k in &st.nested {
            kinds |= kind_bit(*k);
        }
        flags |= if st.without_where {
            ANY_WITHOUT_WHERE
        } else {
            ANY_WITH_WHERE
        };
        flags |= if st.opaque {
            ANY_OPAQUE
        } else {
            ANY_TRANSPARENT
        };
    }
    (kinds, flags)
}

/// The Bloom bit of one role name (FNV-1a, folded to 6 bits).
fn role_bit(role: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in role.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    1 << ((h ^ (h >> 32) ^ (h >> 48)) & 63)
}

/// A rule worth checking for one protocol, with what its `when` block needs.
#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    pub index: u32,
    /// Statement kinds of `when.sql.statements`: one of them must be present (0 = any).
    sql_kinds: u64,
    /// Every flag here must be offered.
    sql_flags: u8,
    /// Bloom bits of `when.user.roles`: one of them must be offered (0 = any).
    roles: u64,
}

impl Candidate {
    pub fn new(index: u32, rule: &Rule) -> Candidate {
        let when = &rule.when;
        let (sql_kinds, sql_flags) = when.sql.as_ref().map_or((0, 0), |s| {
            let mut flags = 0;
            let mut need = |want: Option<bool>, yes: u8, no: u8| match want {
                Some(true) => flags |= yes,
                Some(false) => flags |= no,
                None => {}
            };
            // Statement-level keys hold for one statement, so some statement has each.
            need(s.without_where, ANY_WITHOUT_WHERE, ANY_WITH_WHERE);
            need(s.opaque, ANY_OPAQUE, ANY_TRANSPARENT);
            need(s.unparsed, UNPARSED, PARSED);
            (s.statements.unwrap_or(0), flags)
        });
        let roles = when
            .user
            .as_ref()
            .map_or(0, |u| u.roles.iter().fold(0, |m, r| m | role_bit(r)));
        Candidate {
            index,
            sql_kinds,
            sql_flags,
            roles,
        }
    }

    /// False only when the rule's `when` block cannot hold for the summarised action.
    #[inline]
    pub fn admits(&self, s: &Summary) -> bool {
        (self.sql_kinds == 0 || self.sql_kinds & s.sql_kinds != 0)
            && self.sql_flags & s.sql_flags == self.sql_flags
            && (self.roles == 0 || self.roles & s.roles != 0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use warden_inspect::sql::{SqlStatement, StatementKind};
    use warden_inspect::{Actor, Protocol, TargetRef};

    use super::*;
    use crate::condition::{Condition, SqlCond, UserCond};
    use crate::rule::RuleInfo;
    use crate::verdict::{Decision, Mode};

    const KINDS: [StatementKind; 6] = [
        StatementKind::Select,
        StatementKind::Update,
        StatementKind::Delete,
        StatementKind::Drop,
        StatementKind::Create,
        StatementKind::Other,
    ];
    const ROLES: [&str; 5] = ["dba", "developer", "admin", "migrator", "Dba"];

    fn rule(when: Condition) -> Rule {
        Rule {
            info: RuleInfo {
                name: "r".into(),
                file: "f".into(),
                line: 1,
                column: 1,
                action: Decision::Deny,
                mode: Mode::Enforce,
                description: None,
                message: None,
                approval: None,
                sensitive: false,
                roles: Vec::new(),
            },
            when,
            unless: None,
        }
    }

    fn statement() -> impl Strategy<Value = SqlStatement> {
        (
            0..6usize,
            prop::collection::vec(0..6usize, 0..2),
            any::<(bool, bool)>(),
        )
            .prop_map(|(k, nested, (without_where, opaque))| SqlStatement {
                kind: KINDS[k],
                objects: vec!["t".into()],
                without_where,
                opaque,
                writes: false,
                nested: nested.into_iter().map(|n| KINDS[n]).collect(),
            })
    }

    fn flag() -> impl Strategy<Value = Option<bool>> {
        prop::option::of(any::<bool>())
    }

    fn kinds_mask() -> impl Strategy<Value = Option<u64>> {
        prop::option::of(
            prop::collection::vec(0..6usize, 1..3)
                .prop_map(|ks| ks.into_iter().fold(0, |m, k| m | kind_bit(KINDS[k]))),
        )
    }

    proptest! {
        // The prefilter may only skip rules that would not have matched anyway.
        #[test]
        fn never_rejects_a_matching_rule(
            statements in prop::collection::vec(statement(), 0..3),
            unparsed in any::<bool>(),
            user_roles in prop::collection::vec(0..5usize, 0..3),
            rule_roles in prop::collection::vec(0..5usize, 0..3),
            statements_mask in kinds_mask(),
            (without_where, opaque, rule_unparsed) in (flag(), flag(), flag()),
            non_sql in any::<bool>(),
        ) {
            let facts = if non_sql {
                Facts::None
            } else {
                Facts::Sql(SqlFacts { statements, unparsed, parse_error: None }.into())
            };
            let action = Action {
                protocol: Protocol::Postgres,
                user: Actor {
                    name: "u".into(),
                    roles: user_roles.into_iter().map(|r| ROLES[r].to_string()).collect(),
                    client_addr: None,
                    alerts: Vec::new(),
                },
                target: TargetRef { name: "t".into(), labels: BTreeMap::new() },
                session: None,
                raw: String::new(),
                facts,
            };
            let when = Condition {
                sql: Some(SqlCond {
                    statements: statements_mask,
                    without_where,
                    opaque,
                    unparsed: rule_unparsed,
                    ..SqlCond::default()
                }),
                user: Some(UserCond {
                    names: None,
                    roles: rule_roles.into_iter().map(|r| ROLES[r].to_string()).collect(),
                    alerts: None,
                }),
                ..Condition::default()
            };
            let r = rule(when);
            if r.matches(&action) {
                prop_assert!(Candidate::new(0, &r).admits(&Summary::of(&action)));
            }
        }
    }

    #[test]
    fn rejects_what_cannot_match() {
        let when = Condition {
            sql: Some(SqlCond {
                without_where: Some(true),
                ..SqlCond::default()
            }),
            ..Condition::default()
        };
        let c = Candidate::new(0, &rule(when));
        let with_where = SqlFacts {
            statements: vec![SqlStatement {
                kind: StatementKind::Update,
                objects: Vec::new(),
                without_where: false,
                opaque: false,
                writes: true,
                nested: Vec::new(),
            }],
            unparsed: false,
            parse_error: None,
        };
        let (kinds, flags) = sql_summary(&with_where);
        let s = Summary {
            sql_kinds: kinds,
            sql_flags: flags,
            roles: 0,
        };
        assert!(!c.admits(&s));
    }
}
