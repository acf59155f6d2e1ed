//! Differential property for the literal-shape cache key: two texts with the same
//! `literal_shape` must inspect to the same facts (when the first parses), whatever the
//! literal values — hostile ones included (quotes, `;`, keywords, comment markers inside
//! strings). Checked on a corpus of real statements and on generated token soup.

use proptest::prelude::*;
use warden_inspect::sql::{facts_use_literal, inspect, literal_shape, Dialect};

/// Statements with literals in every position the workloads use. `#N`/`#S` are slots.
const CORPUS: &[&str] = &[
    "SELECT abalance FROM pgbench_accounts WHERE aid = #N;",
    "UPDATE pgbench_accounts SET abalance = abalance + #N WHERE aid = #N;",
    "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (#N, #N, #N, #N, CURRENT_TIMESTAMP);",
    "DELETE FROM orders WHERE id = #N",
    "DELETE FROM orders",
    "SELECT * FROM users WHERE email = #S AND active = true LIMIT #N",
    "SELECT id FROM t WHERE name LIKE #S ORDER BY id DESC LIMIT #N OFFSET #N",
    "WITH d AS (DELETE FROM t WHERE a < #N RETURNING *) SELECT count(*) FROM d",
    "UPDATE t SET note = #S",
    "SELECT pg_sleep(#N)",
    "SELECT pg_read_file(#S)",
    "SELECT set_config(#S, #S, false)",
    "SELECT * FROM dblink(#S, #S) AS x(a int)",
    "COPY t TO PROGRAM #S",
    "COPY t FROM #S",
    "SET search_path = #S",
    "SET statement_timeout = #N",
    "SET ROLE #S",
    "GRANT SELECT ON t TO bob",
    "CREATE TABLE t (a int DEFAULT #N, b text DEFAULT #S)",
    "ALTER TABLE t ALTER COLUMN a SET DEFAULT #N",
    "DROP TABLE t",
    "TRUNCATE t",
    "SELECT #N; DROP TABLE t",
    "SELECT #S; DELETE FROM t",
    "SELECT a::int + #N, b || #S FROM t WHERE c IN (#N, #N, #N)",
    "SELECT CASE WHEN a > #N THEN #S ELSE #S END FROM t",
    "INSERT INTO t VALUES (#N, #S) ON CONFLICT (a) DO UPDATE SET b = #S",
    "SELECT * FROM t WHERE ts > now() - interval #S",
    "SELECT lo_import(#S)",
    "SELECT * FROM t FOR UPDATE",
    "LOCK TABLE t IN ACCESS EXCLUSIVE MODE",
    "VACUUM t",
    "PREPARE p AS SELECT #N",
    "EXECUTE p(#N)",
    "BEGIN",
    "COMMIT",
    "SELECT arr[#N] FROM t",
    "SELECT a FROM t WHERE b = - #N AND c = #N.#N",
];

/// Hostile and ordinary literal values for the slots.
fn string_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ;,()*=<>_.-]{0,16}",
        Just("; DROP TABLE t; --".to_string()),
        Just("*/ DELETE FROM t /*".to_string()),
        Just("' OR 1=1".to_string()),
        Just("$$".to_string()),
        Just("\\'".to_string()),
        Just("off".to_string()),
        Just("é ü ✓".to_string()),
    ]
    .prop_map(|s| format!("'{}'", s.replace('\'', "''")))
}

fn number_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..u64::MAX).prop_map(|n| n.to_string()),
        (0u32..1000, 0u32..1000).prop_map(|(a, b)| format!("{a}.{b}")),
        (1u32..100, -30i32..30).prop_map(|(a, e)| format!("{a}e{e}")),
        Just("0".to_string()),
    ]
}

/// Fill the `#N`/`#S` slots of `template` from the value lists (cycling).
fn fill(template: &str, numbers: &[String], strings: &[String]) -> String {
    let (mut n, mut s) = (0, 0);
    let mut out = String::new();
    let mut rest = template;
    while let Some(at) = rest.find('#') {
        out.push_str(&rest[..at]);
        let slot = &rest[at + 1..at + 2];
        if slot == "N" {
            out.push_str(&numbers[n % numbers.len()]);
            n += 1;
        } else {
            out.push_str(&strings[s % strings.len()]);
            s += 1;
        }
        rest = &rest[at + 2..];
    }
    out.push_str(rest);
    out
}

/// The claim the cache relies on, for one pair of texts.
fn same_shape_same_facts(a: &str, b: &str, dialect: Dialect) -> Result<(), TestCaseError> {
    let (sa, sb) = (literal_shape(a), literal_shape(b));
    if sa.is_none() || sa != sb {
        return Ok(());
    }
    let fa = inspect(a, dialect);
    if fa.unparsed || facts_use_literal(a, &fa) {
        // The cache never stores these under a shape (unparsed facts; a literal read as a
        // name, as in `ANALYZE 'orders'`): only under their exact text.
        return Ok(());
    }
    let fb = inspect(b, dialect);
    prop_assert_eq!(&fa, &fb, "\n  a: {}\n  b: {}", a, b);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn corpus_statements_keep_their_facts_whatever_the_literals(
        index in 0..CORPUS.len(),
        n1 in prop::collection::vec(number_value(), 1..4),
        s1 in prop::collection::vec(string_value(), 1..4),
        n2 in prop::collection::vec(number_value(), 1..4),
        s2 in prop::collection::vec(string_value(), 1..4),
        mysql in any::<bool>(),
    ) {
        let template = CORPUS[index];
        let dialect = if mysql { Dialect::Mysql } else { Dialect::Postgres };
        let a = fill(template, &n1, &s1);
        let b = fill(template, &n2, &s2);
        same_shape_same_facts(&a, &b, dialect)?;
    }

    #[test]
    fn token_soup_with_equal_shapes_has_equal_facts(
        words in prop::collection::vec(prop_oneof![
            Just("SELECT"), Just("FROM"), Just("WHERE"), Just("DELETE"), Just("UPDATE"),
            Just("SET"), Just("INSERT"), Just("INTO"), Just("VALUES"), Just("DROP"),
            Just("TABLE"), Just("t"), Just("u.v"), Just("a"), Just("="), Just(","),
            Just("("), Just(")"), Just(";"), Just("AND"), Just("OR"), Just("LIMIT"),
            Just("#N"), Just("#S"), Just("#N"), Just("#S"), Just("RETURNING"), Just("*"),
            Just("WITH"), Just("AS"), Just("ANALYZE"), Just("COPY"), Just("TO"),
            Just("PROGRAM"), Just("GRANT"), Just("ON"), Just("-"), Just("||"), Just("::"),
        ], 1..14),
        n1 in prop::collection::vec(number_value(), 1..4),
        s1 in prop::collection::vec(string_value(), 1..4),
        n2 in prop::collection::vec(number_value(), 1..4),
        s2 in prop::collection::vec(string_value(), 1..4),
        mysql in any::<bool>(),
    ) {
        let template = words.join(" ");
        let dialect = if mysql { Dialect::Mysql } else { Dialect::Postgres };
        let a = fill(&template, &n1, &s1);
        let b = fill(&template, &n2, &s2);
        same_shape_same_facts(&a, &b, dialect)?;
    }
}

#[test]
fn the_corpus_mostly_has_shapes() {
    // The cache is only useful if ordinary statements get a shape.
    let shaped = CORPUS
        .iter()
        .filter(|t| literal_shape(&fill(t, &["1".into()], &["'x'".into()])).is_some())
        .count();
    assert!(shaped >= CORPUS.len() - 2, "{shaped} of {}", CORPUS.len());
}
