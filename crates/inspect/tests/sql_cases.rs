//! Table-driven SQL inspection cases: each SQL string and the exact facts expected.
//!
//! Expected facts are written compactly, one entry per statement joined by `; `:
//! `kind[object,...]` followed by flags `W` (writes), `O` (opaque), `U` (UPDATE/DELETE
//! without WHERE) and `+kind` for each nested data-changing statement; a trailing
//! `UNPARSED` means the string (or part of it) could not be parsed.

use warden_inspect::sql::{inspect, Dialect, SqlFacts};

use Dialect::{Mysql as MY, Postgres as PG};

fn render(f: &SqlFacts) -> String {
    let mut parts: Vec<String> = f
        .statements
        .iter()
        .map(|s| {
            let mut r = format!("{}[{}]", s.kind.name(), s.objects.join(","));
            if s.writes {
                r.push('W');
            }
            if s.opaque {
                r.push('O');
            }
            if s.without_where {
                r.push('U');
            }
            for n in &s.nested {
                r.push('+');
                r.push_str(n.name());
            }
            r
        })
        .collect();
    if f.unparsed {
        parts.push("UNPARSED".into());
    }
    parts.join("; ")
}

const CASES: &[(Dialect, &str, &str)] = &[
    // --- multi-statement strings and separators
    (PG, "SELECT 1; DROP TABLE t", "select[]; drop[t]W"),
    (PG, "SELECT 1;;;SELECT 2;", "select[]; select[]"),
    (PG, "SELECT 'a;b'; SELECT $$x;y$$", "select[]; select[]"),
    (PG, "SELECT $a$ $$ ; DROP TABLE t $$ $a$", "select[]"),
    (PG, "SELECT $a$ x $a$; DROP TABLE t", "select[]; drop[t]W"),
    (PG, "SELECT a$b$; DROP TABLE t; --", "select[]; drop[t]W"),
    (PG, "SELECT * FROM t; garbage here", "select[t]; UNPARSED"),
    (PG, "SELECT 1 END; DROP TABLE t", "drop[t]W; UNPARSED"),
    (PG, "", ""),
    (PG, ";", ""),
    (PG, "   /* only a comment */  -- and another\n", ""),
    (MY, "# a MySQL comment", ""),
    // --- strings and comments that hide or reveal statements
    (PG, "SELECT 'a\\'; DROP TABLE t; --'", "select[]; drop[t]W"),
    (PG, "SELECT E'\\'; DROP TABLE t; --'", "select[]"),
    (MY, "SELECT 'a\\'; DROP TABLE t; -- '", "select[]"),
    (PG, "SELECT /* a /* nested */ still comment */ 1", "select[]"),
    (PG, "SELECT /* a /* nested */ 1; DROP TABLE t */ 2", "select[]"),
    (PG, "SELECT 1 /* unterminated", "UNPARSED"),
    (PG, "SELECT 'unterminated", "UNPARSED"),
    (PG, "SELECT 1 -- trailing; DROP TABLE t", "select[]"),
    (MY, "SELECT 1 --1; DROP TABLE t", "select[]; drop[t]W"),
    (MY, "SELECT 1 # ; DROP TABLE t", "select[]"),
    // --- MySQL executable comments are executed, so they are inspected
    (MY, "SELECT 1 /*! ; DROP TABLE t */", "select[]; drop[t]W"),
    (MY, "SELECT 1 /*!50001 ; DROP TABLE t */", "select[]; drop[t]W"),
    (MY, "SELECT 1 /*M!100201 ; DROP TABLE t */", "select[]; drop[t]W"),
    (MY, "/*!40101 SET NAMES utf8 */", "set[]"),
    (MY, "SELECT 1 /*+ MAX_EXECUTION_TIME(1000) */", "select[]"),
    // PostgreSQL has no executable comments: the same text is one harmless SELECT.
    (PG, "SELECT 1 /*! ; DROP TABLE t */", "select[]"),
    (MY, "SELECT 1 /*! + 1 */ FROM t", "select[t]"),
    (MY, "/*!50001 DELETE FROM t */", "delete[t]WU"),
    // --- identifiers: quoting, case folding, schema qualification, U&"..."
    (PG, "SELECT * FROM Users u JOIN \"Orders\" o ON u.id = o.uid", "select[users,Orders]"),
    (PG, "select * from PUBLIC.USERS", "select[public.users]"),
    (PG, "SELECT * FROM \"public\".\"Users\"", "select[public.Users]"),
    (PG, "SELECT * FROM db.sch.tab", "select[db.sch.tab]"),
    (PG, "SELECT * FROM \"a\"\"b\"", "select[a\"b]"),
    (PG, "SELECT * FROM U&\"d\\0061t\\+000061\"", "select[data]"),
    (PG, "DROP TABLE U&\"d\\0061ta\"", "drop[data]W"),
    (PG, "DROP TABLE public.U&\"T\\0061B\"", "drop[public.TaB]W"),
    (PG, "DROP TABLE U&\"d!0061ta\" UESCAPE '!'", "UNPARSED"),
    (PG, "DROP TABLE U&\"d\\00\"", "UNPARSED"),
    (PG, "SELECT u & \"x\" FROM t", "select[t]"),
    (MY, "SELECT * FROM `Shop`.`Orders`", "select[Shop.Orders]"),
    (MY, "SELECT * FROM Shop.Orders WHERE id = 1", "select[Shop.Orders]"),
    (PG, "SELECT * FROM ONLY t", "select[t]"),
    (PG, "DELETE FROM ONLY s.t WHERE id = 1", "delete[s.t]W"),
    (PG, "UPDATE ONLY t SET a = 1", "update[t]WU"),
    // --- reads
    (PG, "SELECT count(*), lower(name) FROM t", "select[t]"),
    (PG, "SELECT CURRENT_TIMESTAMP, now(), coalesce(a, 1) FROM t", "select[t]"),
    (PG, "SELECT pg_catalog.count(*) FROM t", "select[t]"),
    (PG, "SELECT * FROM (SELECT * FROM \"Sch\".\"Tab\") sub", "select[Sch.Tab]"),
    (PG, "SELECT a FROM t WHERE b IN (SELECT b FROM s.u)", "select[t,s.u]"),
    (PG, "SELECT * FROM t UNION SELECT * FROM u", "select[t,u]"),
    (PG, "SELECT * FROM generate_series(1, 10)", "select[]"),
    (PG, "VALUES (1), (2)", "select[]"),
    (
        PG,
        "WITH RECURSIVE r AS (SELECT 1 UNION ALL SELECT n+1 FROM r WHERE n < 10) SELECT * FROM r",
        "select[r]",
    ),
    (PG, "SELECT * FROM t WHERE a = $1", "select[t]"),
    (PG, "SHOW work_mem", "show[]"),
    (MY, "SHOW TABLES", "show[]"),
    (MY, "DESCRIBE t", "show[t]"),
    (PG, "DECLARE c CURSOR FOR SELECT * FROM t", "select[t]"),
    // --- function calls whose effect is unknown are opaque
    (PG, "SELECT pg_terminate_backend(123)", "select[]O"),
    (PG, "SELECT nextval('s')", "select[]O"),
    (PG, "SELECT set_config('role', 'admin', false)", "select[]O"),
    (PG, "SELECT lo_import('/etc/passwd')", "select[]O"),
    (PG, "SELECT dblink_exec('x', 'DROP TABLE t')", "select[]O"),
    (PG, "SELECT * FROM dblink('x', 'select 1') AS t(a int)", "select[]O"),
    (PG, "SELECT * FROM pg_read_file('/etc/passwd')", "select[]O"),
    (PG, "SELECT myschema.lower(x) FROM t", "select[t]O"),
    (PG, "SELECT \"Lower\"(x) FROM t", "select[t]O"),
    (PG, "SELECT * FROM t WHERE id = (SELECT my_func())", "select[t]O"),
    (PG, "UPDATE t SET a = nextval('s') WHERE id = 1", "update[t]WO"),
    (MY, "SELECT sleep(10)", "select[]O"),
    // Non-ASCII names are never builtins: Unicode folding turns KELVIN SIGN into `k`
    // (`rank`), but the server folds only ASCII and calls some other function.
    (PG, "SELECT ran\u{212A}() OVER () FROM t", "select[t]O"),
    (PG, "SELECT \"PG_CATALOG\".lower(x) FROM t", "select[t]O"),
    // --- writes, WHERE or not
    (PG, "UPDATE t SET a = 1", "update[t]WU"),
    (PG, "UPDATE t SET a = 1 WHERE id = 2", "update[t]W"),
    (PG, "UPDATE t SET a = 1 FROM s WHERE t.id = s.id", "update[t,s]W"),
    (PG, "DELETE FROM t", "delete[t]WU"),
    (PG, "DELETE FROM t WHERE id IN (SELECT id FROM s)", "delete[t,s]W"),
    (PG, "DELETE FROM t USING s WHERE t.id = s.id", "delete[t,s]W"),
    (MY, "DELETE FROM t LIMIT 10", "delete[t]WU"),
    (MY, "DELETE t FROM t JOIN s ON t.id = s.id", "delete[t,s]WU"),
    (MY, "UPDATE t JOIN s ON t.id = s.id SET t.a = 1", "update[t,s]WU"),
    (PG, "INSERT INTO t SELECT * FROM s", "insert[t,s]W"),
    (PG, "INSERT INTO t (a) VALUES ($1) RETURNING id", "insert[t]W"),
    (PG, "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", "insert[t]W"),
    (MY, "REPLACE INTO t VALUES (1)", "insert[t]W"),
    (MY, "INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = 1", "insert[t]W"),
    (
        PG,
        "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
        "merge[t,s]W",
    ),
    (
        PG,
        "MERGE INTO t USING (SELECT * FROM s) AS x ON t.id = x.id WHEN NOT MATCHED THEN INSERT VALUES (x.id)",
        "merge[t,s]W",
    ),
    // --- writes hidden in CTEs, EXPLAIN ANALYZE, PREPARE
    (PG, "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "select[t,d]WU+delete"),
    (
        PG,
        "WITH x AS (UPDATE t SET a = 1 WHERE id = 1 RETURNING *) INSERT INTO log SELECT * FROM x",
        "insert[t,log,x]W+update",
    ),
    (
        PG,
        "INSERT INTO t WITH s AS (DELETE FROM u RETURNING *) SELECT * FROM s",
        "insert[t,u,s]WU+delete",
    ),
    (PG, "WITH x AS (SELECT 1) DELETE FROM t", "delete[t]WU"),
    (PG, "EXPLAIN ANALYZE DELETE FROM t", "explain_analyze[t]WU+delete"),
    (PG, "EXPLAIN (ANALYZE, BUFFERS) DELETE FROM t WHERE id = 1", "explain_analyze[t]W+delete"),
    (PG, "EXPLAIN (FORMAT JSON, ANALYZE on) UPDATE t SET a = 1", "explain_analyze[t]WU+update"),
    (
        PG,
        "EXPLAIN ANALYZE WITH d AS (DELETE FROM t RETURNING 1) SELECT 1",
        "explain_analyze[t]WU+delete",
    ),
    (PG, "EXPLAIN ANALYZE SELECT * INTO x FROM t", "explain_analyze[x,t]W+create"),
    (PG, "EXPLAIN ANALYZE SELECT * FROM t", "explain_analyze[t]W"),
    (PG, "EXPLAIN DELETE FROM t", "explain[t]"),
    (PG, "EXPLAIN (ANALYZE false) DELETE FROM t", "explain[t]"),
    (PG, "EXPLAIN SELECT * FROM t", "explain[t]"),
    (PG, "PREPARE p AS DELETE FROM t", "prepare[t]WU+delete"),
    (PG, "PREPARE q (int) AS SELECT * FROM t WHERE id = $1", "prepare[t]"),
    (PG, "PREPARE q AS SELECT evil()", "prepare[]O"),
    (PG, "EXECUTE p", "execute[]WO"),
    (PG, "DEALLOCATE p", "deallocate[]"),
    // --- SELECT INTO and row locks
    (PG, "SELECT * INTO new_t FROM t", "create[new_t,t]W"),
    (PG, "SELECT * FROM t FOR UPDATE", "lock[t]W"),
    (PG, "SELECT 1 FROM t FOR SHARE", "lock[t]W"),
    (MY, "SELECT * FROM t INTO OUTFILE '/tmp/x'", "UNPARSED"),
    // --- COPY
    (PG, "COPY t TO PROGRAM 'rm -rf /'", "copy_program[t]WO"),
    (PG, "COPY t FROM PROGRAM 'curl evil'", "copy_program[t]WO"),
    (PG, "COPY t FROM STDIN", "copy_from[t]W"),
    (PG, "COPY t (a, b) FROM STDIN WITH (FORMAT csv)", "copy_from[t]W"),
    (PG, "COPY t TO STDOUT", "copy_to[t]"),
    (PG, "COPY (SELECT * FROM t) TO STDOUT", "copy_to[t]"),
    (PG, "COPY t FROM '/etc/passwd'", "copy_from[t]WO"),
    (PG, "COPY t TO '/tmp/out'", "copy_to[t]WO"),
    // --- DDL
    (PG, "DROP TABLE IF EXISTS a, b.c", "drop[a,b.c]W"),
    (PG, "DROP SCHEMA s CASCADE", "drop[s]W"),
    (PG, "DROP FUNCTION f", "drop[f]W"),
    (PG, "DROP INDEX CONCURRENTLY i", "drop[]WO"),
    (PG, "DROP OWNED BY bob", "drop[]WO"),
    (MY, "DROP DATABASE shop", "drop[shop]W"),
    (PG, "TRUNCATE users CASCADE", "truncate[users]W"),
    (PG, "TRUNCATE TABLE a, b RESTART IDENTITY", "truncate[a,b]W"),
    (PG, "CREATE TABLE t (id int)", "create[t]W"),
    (PG, "CREATE TEMP TABLE tmp (a int)", "create[tmp]W"),
    (PG, "CREATE TABLE t AS SELECT * FROM s", "create[t,s]W"),
    (PG, "CREATE VIEW v AS SELECT * FROM s", "create[v,s]W"),
    (PG, "CREATE UNIQUE INDEX CONCURRENTLY i ON s.t (a)", "create[i,s.t]W"),
    (PG, "CREATE SCHEMA s", "create[s]W"),
    (PG, "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$", "create[f]W"),
    (PG, "CREATE EXTENSION dblink", "create[]WO"),
    (PG, "ALTER TABLE t ADD COLUMN b int", "alter[t]W"),
    (PG, "ALTER TABLE \"T\" RENAME TO u", "alter[T]W"),
    (PG, "ALTER SYSTEM SET work_mem = '1GB'", "alter[]WO"),
    (PG, "ALTER SYSTEM RESET ALL", "alter[]WO"),
    (MY, "RENAME TABLE a TO b", "alter[a,b]W"),
    (PG, "COMMENT ON TABLE t IS 'x'", "alter[]W"),
    (PG, "REFRESH MATERIALIZED VIEW v", "other[]WO"),
    // --- privileges and roles
    (PG, "GRANT SELECT ON users TO PUBLIC", "grant[users]W"),
    (PG, "GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO PUBLIC", "grant[public]W"),
    (PG, "GRANT admin TO bob", "grant[]WO"),
    (PG, "REVOKE ALL ON TABLE a.b FROM bob", "revoke[a.b]W"),
    (PG, "REVOKE CONNECT ON DATABASE db FROM PUBLIC", "revoke[db]W"),
    (PG, "CREATE ROLE bob", "role[bob]W"),
    (PG, "ALTER ROLE bob SUPERUSER", "role[]W"),
    (PG, "DROP ROLE bob", "role[bob]W"),
    (PG, "CREATE USER bob", "role[]WO"),
    (PG, "SET ROLE admin", "role[]W"),
    (PG, "SET LOCAL ROLE admin", "role[]W"),
    (PG, "SET SESSION AUTHORIZATION bob", "role[]WO"),
    (PG, "RESET ROLE", "role[]WO"),
    (MY, "SET PASSWORD = 'x'", "role[]W"),
    // --- session settings
    (PG, "SET search_path = public", "set[]"),
    (PG, "SET statement_timeout = 0", "set[]"),
    (PG, "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", "set[]"),
    (PG, "DISCARD ALL", "set[]"),
    (MY, "SET NAMES utf8mb4", "set[]"),
    (MY, "USE shop", "set[]"),
    (MY, "SET GLOBAL general_log = 0", "alter[]WO"),
    (MY, "SET @@global.general_log = 0", "alter[]WO"),
    // --- settings that change how PostgreSQL reads string literals are opaque
    (PG, "SET standard_conforming_strings = off", "set[]O"),
    (PG, "SET standard_conforming_strings TO on", "set[]O"),
    (PG, "SET LOCAL standard_conforming_strings = off", "set[]O"),
    (PG, "SET SESSION Standard_Conforming_Strings = off", "set[]O"),
    (PG, "SET \"standard_conforming_strings\" = off", "set[]O"),
    (PG, "SET backslash_quote = on", "set[]O"),
    (PG, "RESET standard_conforming_strings", "set[]WO"),
    (PG, "ALTER ROLE bob SET standard_conforming_strings = off", "role[]WO"),
    (PG, "ALTER ROLE bob IN DATABASE d SET backslash_quote = on", "role[]WO"),
    (PG, "ALTER ROLE bob RESET standard_conforming_strings", "role[]WO"),
    (PG, "ALTER ROLE bob RESET ALL", "role[]WO"),
    (PG, "ALTER ROLE bob SET work_mem = '1GB'", "role[]W"),
    (PG, "ALTER DATABASE d SET standard_conforming_strings = off", "alter[]WO"),
    (PG, "ALTER SYSTEM SET standard_conforming_strings = off", "alter[]WO"),
    (PG, "SELECT set_config('standard_conforming_strings', 'off', false)", "select[]O"),
    (PG, "SELECT pg_catalog.set_config('standard_conforming_strings', 'off', false)", "select[]O"),
    // --- catalog/introspection functions used by psql and pgbench are pure
    (PG, "SELECT pg_catalog.pg_get_userbyid(c.relowner), pg_catalog.pg_table_is_visible(c.oid) FROM pg_catalog.pg_class c", "select[pg_catalog.pg_class]"),
    (PG, "SELECT pg_catalog.format_type(a.atttypid, a.atttypmod), pg_catalog.pg_get_expr(d.adbin, d.adrelid) FROM a, d", "select[a,d]"),
    (PG, "SELECT pg_catalog.pg_get_indexdef(i.indexrelid, 0, true), pg_catalog.pg_get_constraintdef(r.oid, true) FROM i, r", "select[i,r]"),
    (PG, "SELECT obj_description(1, 'pg_class'), col_description(1, 2), shobj_description(1, 'pg_database')", "select[]"),
    (PG, "SELECT pg_catalog.pg_encoding_to_char(encoding), pg_catalog.array_to_string(datacl, E'\\n') FROM pg_catalog.pg_database", "select[pg_catalog.pg_database]"),
    (PG, "SELECT pg_size_pretty(pg_total_relation_size('t')), pg_relation_size('t'), pg_table_size('t'), pg_database_size('d')", "select[]"),
    (PG, "SELECT has_table_privilege('t', 'SELECT'), has_schema_privilege('s', 'USAGE'), pg_has_role('r', 'MEMBER')", "select[]"),
    (PG, "SELECT pg_catalog.pg_get_function_arguments(p.oid), pg_catalog.pg_get_function_result(p.oid) FROM pg_catalog.pg_proc p", "select[pg_catalog.pg_proc]"),
    (PG, "SELECT pg_catalog.quote_ident('x'), current_setting('search_path'), version(), current_schemas(true)", "select[]"),
    (PG, "SELECT pg_catalog.array_position(pg_catalog.current_schemas(true), 'public')", "select[]"),
    (PG, "SELECT generate_series(1, 3), unnest(ARRAY[1, 2])", "select[]"),
    (PG, "INSERT INTO t SELECT generate_series(1, $1::int)", "insert[t]W"),
    (PG, "SELECT public.pg_get_userbyid(1)", "select[]O"),
    (PG, "SELECT ARRAY(SELECT rolname FROM pg_catalog.pg_roles), array(SELECT 1)", "select[pg_catalog.pg_roles]"),
    (PG, "SELECT \"array\"(1)", "select[]O"),
    (PG, "SELECT public.array(1)", "select[]O"),
    (PG, "SELECT myschema.version()", "select[]O"),
    (PG, "SELECT \"Pg_Get_Userbyid\"(1)", "select[]O"),
    // --- still opaque: side effects, locks, xids, file access
    (PG, "SELECT nextval('s'), setval('s', 1)", "select[]O"),
    (PG, "SELECT pg_advisory_lock(1)", "select[]O"),
    (PG, "SELECT pg_catalog.pg_advisory_xact_lock(1)", "select[]O"),
    (PG, "SELECT lo_import('/etc/passwd')", "select[]O"),
    (PG, "SELECT pg_terminate_backend(1)", "select[]O"),
    (PG, "SELECT pg_cancel_backend(1)", "select[]O"),
    (PG, "SELECT pg_reload_conf()", "select[]O"),
    (PG, "SELECT pg_read_file('/etc/passwd')", "select[]O"),
    (PG, "SELECT pg_ls_dir('.')", "select[]O"),
    (PG, "SELECT txid_current()", "select[]O"),
    (PG, "SELECT dblink_exec('x', 'DROP TABLE t')", "select[]O"),
    // --- transaction wrappers
    (PG, "BEGIN; DELETE FROM t; COMMIT", "begin[]; delete[t]WU; commit[]"),
    (PG, "BEGIN ISOLATION LEVEL SERIALIZABLE", "begin[]"),
    (MY, "START TRANSACTION; UPDATE t SET a = 1 WHERE id = 1; ROLLBACK", "begin[]; update[t]W; rollback[]"),
    (PG, "SAVEPOINT a", "savepoint[]"),
    (PG, "RELEASE SAVEPOINT a", "savepoint[]"),
    (PG, "ROLLBACK TO SAVEPOINT a", "rollback[]"),
    (PG, "COMMIT AND CHAIN", "commit[]"),
    (PG, "END", "commit[]"),
    // --- procedural and dynamic SQL
    (PG, "DO $$ BEGIN DELETE FROM t; END $$", "do[]WO"),
    (PG, "DO LANGUAGE plpgsql $$ BEGIN NULL; END $$", "do[]WO"),
    (PG, "CALL p()", "call[]WO"),
    (MY, "CALL p()", "call[]WO"),
    // --- maintenance, locks and others
    (PG, "VACUUM t", "vacuum[t]W"),
    (PG, "VACUUM FULL ANALYZE t", "vacuum[]WO"),
    (PG, "ANALYZE t", "analyze[t]"),
    (PG, "LOCK TABLE t IN ACCESS EXCLUSIVE MODE", "lock[]WO"),
    (MY, "LOCK TABLES t WRITE", "lock[t]W"),
    (PG, "CLUSTER t", "other[]WO"),
    (PG, "CHECKPOINT", "other[]WO"),
    (PG, "LOAD 'plugin'", "other[]WO"),
    (MY, "LOAD DATA INFILE '/tmp/x' INTO TABLE t", "other[]WO"),
    (MY, "KILL 5", "other[]WO"),
    (MY, "FLUSH PRIVILEGES", "other[]WO"),
    (PG, "LISTEN c", "other[]"),
    (PG, "NOTIFY c", "other[]"),
    // --- not SQL at all
    (PG, "SELECT * FROM", "UNPARSED"),
    (PG, "\\copy t from x", "UNPARSED"),
    (PG, "TABLE users", "UNPARSED"),
];

#[test]
fn every_case_matches() {
    let mut failures = Vec::new();
    for (dialect, sql, expected) in CASES {
        let got = render(&inspect(sql, *dialect));
        if got != *expected {
            failures.push(format!(
                "{dialect:?} {sql:?}\n   expected {expected}\n   got      {got}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn there_are_at_least_80_cases() {
    assert!(CASES.len() >= 80, "only {} cases", CASES.len());
}

#[test]
fn unparsed_strings_carry_the_parser_error() {
    let facts = inspect("SELECT * FROM", PG);
    assert!(facts.unparsed);
    assert!(facts.parse_error.is_some_and(|e| !e.is_empty()));
    let facts = inspect("SELECT 1", PG);
    assert!(!facts.unparsed && facts.parse_error.is_none());
}

#[test]
fn dangerous_kinds_are_writes() {
    // The policy words `write` and `ddl` must cover every statement classified as such.
    for (dialect, sql) in [
        (PG, "DROP TABLE t"),
        (PG, "TRUNCATE t"),
        (PG, "WITH d AS (DELETE FROM t RETURNING 1) SELECT 1"),
        (PG, "COPY t TO PROGRAM 'x'"),
        (MY, "SELECT 1 /*! ; DELETE FROM t */"),
    ] {
        let facts = inspect(sql, dialect);
        assert!(
            facts.statements.iter().any(|s| s.writes),
            "{sql}: {facts:?}"
        );
    }
    let drop = &inspect("DROP TABLE t", PG).statements[0];
    assert!(drop.kind.matches_word("ddl") && drop.kind.matches_word("write"));
}
