//! Property: whitespace, comment and keyword-case mutations of a dangerous statement
//! never make it read as harmless. The mutated text must either be reported unparsed or
//! classified exactly like the original (same kinds, at least the same danger flags).

use proptest::prelude::*;
use warden_inspect::sql::{inspect, Dialect, SqlFacts};

/// Dangerous statements as tokens; mutations go between tokens and into word case.
const POSTGRES: &[&[&str]] = &[
    &["DROP", "TABLE", "users"],
    &["DROP", "TABLE", "U&\"d\\0061ta\""],
    &["DELETE", "FROM", "t"],
    &["UPDATE", "t", "SET", "a", "=", "1"],
    &[
        "WITH",
        "d",
        "AS",
        "(",
        "DELETE",
        "FROM",
        "t",
        "RETURNING",
        "*",
        ")",
        "SELECT",
        "1",
    ],
    &["EXPLAIN", "ANALYZE", "DELETE", "FROM", "t"],
    &[
        "EXPLAIN", "(", "ANALYZE", ")", "UPDATE", "t", "SET", "a", "=", "1",
    ],
    &["COPY", "t", "TO", "PROGRAM", "'rm -rf /'"],
    &["SELECT", "pg_terminate_backend", "(", "1", ")"],
    &[
        "SELECT", "*", "FROM", "dblink", "(", "'x'", ",", "'y'", ")", "AS", "t", "(", "a", "int",
        ")",
    ],
    &["TRUNCATE", "t", "CASCADE"],
    &["GRANT", "ALL", "ON", "t", "TO", "PUBLIC"],
    &["DO", "$$ BEGIN DELETE FROM t; END $$"],
    &["SELECT", "1", ";", "DROP", "TABLE", "t"],
    &["SELECT", "*", "INTO", "x", "FROM", "t"],
    &["SELECT", "*", "FROM", "t", "FOR", "UPDATE"],
    &["SET", "ROLE", "admin"],
    &["ALTER", "SYSTEM", "SET", "work_mem", "=", "'1GB'"],
    &[
        "MERGE", "INTO", "t", "USING", "s", "ON", "t.id", "=", "s.id", "WHEN", "MATCHED", "THEN",
        "DELETE",
    ],
    &["PREPARE", "p", "AS", "DELETE", "FROM", "t"],
    &["CALL", "p", "(", ")"],
    &["DELETE", "FROM", "ONLY", "t"],
];

const MYSQL: &[&[&str]] = &[
    &["SELECT", "1", "/*! ; DROP TABLE t */"],
    &["SELECT", "1", "/*!50001 ; DELETE FROM t */"],
    &["DELETE", "FROM", "t", "LIMIT", "1"],
    &["DROP", "TABLE", "`Orders`"],
    &["SET", "GLOBAL", "general_log", "=", "0"],
    &["UPDATE", "t", "SET", "a", "=", "1"],
    &["TRUNCATE", "TABLE", "t"],
    &["SELECT", "sleep", "(", "10", ")"],
];

fn separators(dialect: Dialect) -> Vec<&'static str> {
    let mut v = vec![" ", "\t", "\n", "\r\n", "   ", "/* c */", "/**/", "-- c\n"];
    match dialect {
        Dialect::Postgres => v.push("/* a /* nested */ b */"),
        Dialect::Mysql => v.push("# c\n"),
    }
    v
}

fn is_bare_word(token: &str) -> bool {
    token
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// A mutated rendering of `tokens`: `gaps[i]` separators before token i+1, `upper[i]`
/// picks the case of each letter of bare words.
fn mutate(tokens: &[&str], seps: &[&str], gaps: &[Vec<usize>], case_bits: &[bool]) -> String {
    let mut out = String::new();
    let mut bit = 0usize;
    for (i, token) in tokens.iter().enumerate() {
        if i > 0 {
            let gap = &gaps[(i - 1) % gaps.len()];
            for &s in gap {
                out.push_str(seps[s % seps.len()]);
            }
            if gap.is_empty() {
                out.push(' ');
            }
        }
        if is_bare_word(token) {
            for c in token.chars() {
                let up = case_bits[bit % case_bits.len()];
                bit += 1;
                if up {
                    out.push(c.to_ascii_uppercase());
                } else {
                    out.push(c.to_ascii_lowercase());
                }
            }
        } else {
            out.push_str(token);
        }
    }
    out
}

/// Kinds plus the danger flags of each statement.
fn shape(f: &SqlFacts) -> Vec<(&'static str, bool, bool, bool)> {
    f.statements
        .iter()
        .map(|s| (s.kind.name(), s.writes, s.opaque, s.without_where))
        .collect()
}

fn check(
    dialect: Dialect,
    tokens: &[&str],
    gaps: &[Vec<usize>],
    bits: &[bool],
) -> Result<(), TestCaseError> {
    let original = inspect(&tokens.join(" "), dialect);
    prop_assert!(!original.unparsed, "baseline must parse: {tokens:?}");
    prop_assert!(
        original.statements.iter().any(|s| s.writes || s.opaque),
        "baseline must be dangerous: {tokens:?} {original:?}"
    );
    let seps = separators(dialect);
    let text = mutate(tokens, &seps, gaps, bits);
    let mutated = inspect(&text, dialect);
    if mutated.unparsed {
        return Ok(());
    }
    prop_assert_eq!(
        shape(&mutated),
        shape(&original),
        "mutated text: {:?}",
        text
    );
    Ok(())
}

fn gaps() -> impl Strategy<Value = Vec<Vec<usize>>> {
    prop::collection::vec(prop::collection::vec(0usize..16, 0..3), 1..16)
}

fn bits() -> impl Strategy<Value = Vec<bool>> {
    prop::collection::vec(any::<bool>(), 1..32)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn postgres_mutations_stay_dangerous(i in 0..POSTGRES.len(), g in gaps(), b in bits()) {
        check(Dialect::Postgres, POSTGRES[i], &g, &b)?;
    }

    #[test]
    fn mysql_mutations_stay_dangerous(i in 0..MYSQL.len(), g in gaps(), b in bits()) {
        check(Dialect::Mysql, MYSQL[i], &g, &b)?;
    }
}
