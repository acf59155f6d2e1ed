//! Name resolution: unqualified functions, operators and casts are trusted as builtins
//! only while `pg_catalog` is searched first (the default `search_path`); with another
//! schema before it (`SET search_path = myschema, pg_catalog`) they may be user code.

use warden_inspect::sql::{inspect, inspect_resolved, Dialect, Resolution};

fn opaque(sql: &str, resolution: Resolution) -> bool {
    let facts = inspect_resolved(sql, Dialect::Postgres, resolution);
    assert!(!facts.unparsed, "{sql}: {:?}", facts.parse_error);
    facts.statements.iter().any(|s| s.opaque)
}

#[test]
fn the_default_resolution_is_what_inspect_does() {
    for sql in ["SELECT lower(name) FROM t", "SELECT * FROM t WHERE id = 1"] {
        assert_eq!(
            inspect(sql, Dialect::Postgres),
            inspect_resolved(sql, Dialect::Postgres, Resolution::CatalogFirst)
        );
        assert!(!opaque(sql, Resolution::CatalogFirst), "{sql}");
    }
}

#[test]
fn user_schemas_first_makes_unqualified_calls_and_operators_opaque() {
    for sql in [
        "SELECT lower(name) FROM t",
        "SELECT count(*) FROM t",
        "SELECT * FROM generate_series(1, 3)",
        "SELECT * FROM t WHERE id = 1",
        "SELECT id + 1 FROM t",
        "SELECT '1'::int",
        "UPDATE t SET n = 2 WHERE id = 1",
    ] {
        assert!(opaque(sql, Resolution::UserSchemasFirst), "{sql}");
    }
}

#[test]
fn user_schemas_first_still_trusts_plain_reads_and_pg_catalog_calls() {
    for sql in [
        "SELECT * FROM t",
        "SELECT a, t.b, 'x', 1 FROM t",
        "SELECT pg_catalog.lower(name) FROM t",
        "INSERT INTO t VALUES (1, 'a')",
    ] {
        assert!(!opaque(sql, Resolution::UserSchemasFirst), "{sql}");
    }
}
