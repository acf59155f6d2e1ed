//! Robustness of SQL inspection: hostile input never panics, never overflows the stack,
//! and what cannot be inspected is reported as unparsed (never as harmless).

use proptest::prelude::*;
use warden_inspect::sql::{inspect, Dialect};

/// Run `f` on a thread with a 2 MiB stack (tokio's and the test harness's default), so a
/// stack overflow fails the test instead of passing on a big main-thread stack.
fn on_small_stack<F: FnOnce() + Send + 'static>(f: F) {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("inspection must not panic or overflow");
}

#[test]
fn longest_allowed_operator_chains_fit_a_small_stack() {
    on_small_stack(|| {
        // At the inspector's depth bound (400 operators in one chain) in both shapes.
        let sql = format!("DELETE FROM t WHERE a = 1{}", " OR a = 1".repeat(199));
        let facts = inspect(&sql, Dialect::Postgres);
        assert!(!facts.unparsed, "{:?}", facts.parse_error);
        assert_eq!(facts.statements[0].kind.name(), "delete");
        let sql = format!("SELECT 1{} FROM t", " + 1".repeat(400));
        let facts = inspect(&sql, Dialect::Mysql);
        assert!(!facts.unparsed, "{:?}", facts.parse_error);
        // One more operator and the statement is refused rather than walked.
        let sql = format!("SELECT 1{} FROM t", " + 1".repeat(401));
        assert!(inspect(&sql, Dialect::Mysql).unparsed);
    });
}

#[test]
fn commas_and_parentheses_bound_the_depth_estimate() {
    on_small_stack(|| {
        // Many short expressions side by side are not deep.
        let items = vec!["a + 1 * 2"; 2_000].join(", ");
        let facts = inspect(&format!("SELECT {items} FROM t"), Dialect::Postgres);
        assert!(!facts.unparsed, "{:?}", facts.parse_error);
        let ors = vec!["(a = 1 AND b = 2)"; 100].join(" OR ");
        let facts = inspect(&format!("SELECT * FROM t WHERE {ors}"), Dialect::Postgres);
        assert!(!facts.unparsed, "{:?}", facts.parse_error);
    });
}

#[test]
fn operator_chain_beyond_the_bound_is_unparsed_not_walked() {
    on_small_stack(|| {
        let sql = format!("SELECT 1{}; DROP TABLE t", " + 1".repeat(100_000));
        let facts = inspect(&sql, Dialect::Postgres);
        assert!(facts.unparsed);
        // The statement after it is still seen.
        assert!(facts.statements.iter().any(|s| s.kind.name() == "drop"));
    });
}

#[test]
fn deep_parentheses_are_unparsed() {
    on_small_stack(|| {
        for d in [Dialect::Postgres, Dialect::Mysql] {
            let sql = format!("SELECT {}1{}", "(".repeat(5_000), ")".repeat(5_000));
            assert!(inspect(&sql, d).unparsed);
            let sql = format!("SELECT {}1", "- ".repeat(5_000));
            assert!(inspect(&sql, d).unparsed);
        }
    });
}

#[test]
fn deep_subqueries_are_unparsed() {
    on_small_stack(|| {
        let sql = format!(
            "SELECT * FROM {}t{}",
            "(SELECT * FROM ".repeat(2_000),
            ") x".repeat(2_000)
        );
        assert!(inspect(&sql, Dialect::Postgres).unparsed);
    });
}

#[test]
fn huge_value_lists_are_fine() {
    on_small_stack(|| {
        let rows = vec!["(1, 'a', -2)"; 20_000].join(", ");
        let facts = inspect(&format!("INSERT INTO t VALUES {rows}"), Dialect::Mysql);
        assert!(!facts.unparsed);
        assert_eq!(facts.statements[0].objects, vec!["t".to_string()]);
    });
}

fn sqlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("SELECT ".to_string()),
        Just("DELETE FROM ".to_string()),
        Just("WITH x AS (".to_string()),
        Just(")".to_string()),
        Just("(".to_string()),
        Just(";".to_string()),
        Just("/*".to_string()),
        Just("*/".to_string()),
        Just("/*!".to_string()),
        Just("--".to_string()),
        Just("$$".to_string()),
        Just("'".to_string()),
        Just("\"".to_string()),
        Just("`".to_string()),
        Just("U&\"".to_string()),
        Just("\\".to_string()),
        Just("E'".to_string()),
        Just(" t ".to_string()),
        Just(" WHERE ".to_string()),
        Just("ONLY ".to_string()),
        "[a-zA-Z0-9_ ,.*=<>+-]{0,12}",
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_strings_never_panic(s in any::<String>()) {
        let _ = inspect(&s, Dialect::Postgres);
        let _ = inspect(&s, Dialect::Mysql);
    }

    #[test]
    fn random_sql_fragments_never_panic(s in sqlish()) {
        for d in [Dialect::Postgres, Dialect::Mysql] {
            let facts = inspect(&s, d);
            // Unparsed always carries a reason.
            prop_assert_eq!(facts.unparsed, facts.parse_error.is_some());
        }
    }
}
