//! Adversarial SQL through the wire, via the simple and the extended protocol, against a
//! read-only policy with fail-closed defaults; afterwards the database itself is checked
//! to prove nothing dangerous ran.

mod pg_support;

use pg_support::*;

const READ_ONLY: &str = r#"
version: 1
defaults: { unparsed: deny, opaque: deny }
rules:
  - name: read-only-target
    when:
      protocol: postgres
      sql: { statements: [write, copy] }
    action: deny
    message: this target is read-only
"#;

/// (statement, must Warden refuse it)
fn cases(db: &str) -> Vec<(String, bool)> {
    let pwned = format!("/tmp/warden_pwned_{db}");
    [
        ("SELECT 1; DROP TABLE victim", true),
        ("SELECT 1; DELETE FROM victim", true),
        (
            "WITH d AS (DELETE FROM victim RETURNING *) SELECT * FROM d",
            true,
        ),
        (
            "WITH u AS (UPDATE victim SET id = 0 RETURNING 1) SELECT 1",
            true,
        ),
        ("EXPLAIN ANALYZE DELETE FROM victim", true),
        (
            "MERGE INTO victim v USING (SELECT 1 AS id) s ON v.id = s.id WHEN MATCHED THEN DELETE",
            true,
        ),
        (
            "/* outer /* nested */ still a comment */ DELETE FROM victim",
            true,
        ),
        ("DELETE /* c */ FROM /* c */ victim -- trailing", true),
        ("DELETE FROM U&\"\\0076ictim\"", true),
        ("DELETE FROM public.\"victim\"", true),
        ("delete from PUBLIC.VICTIM", true),
        ("DO $$ BEGIN EXECUTE 'DELETE FROM victim'; END $$", true),
        ("DO $x$ BEGIN PERFORM 1; DELETE FROM victim; END $x$", true),
        ("GRANT ALL ON victim TO PUBLIC", true),
        ("TRUNCATE victim CASCADE", true),
        ("SELECT * INTO stolen FROM victim", true),
        ("CREATE TABLE stolen AS SELECT * FROM victim", true),
        ("BEGIN; DELETE FROM victim; COMMIT", true),
        ("START TRANSACTION; UPDATE victim SET id = 0; COMMIT;", true),
        ("ALTER TABLE victim RENAME TO renamed", true),
        ("PREPARE p AS DELETE FROM victim", true),
        ("SELECT 1 /*! ; DELETE FROM victim */", false),
        ("SELECT count(*) FROM victim", false),
    ]
    .into_iter()
    .map(|(s, deny)| (s.to_string(), deny))
    .chain([(format!("COPY victim TO PROGRAM 'touch {pwned}'"), true)])
    .chain([(format!("COPY (SELECT 1) TO PROGRAM 'touch {pwned}'"), true)])
    .collect()
}

async fn assert_intact(h: &Harness) {
    let d = h.direct().await;
    let row = d
        .query_one(
            "SELECT (SELECT count(*) FROM victim WHERE id > 0), \
                    (SELECT relacl IS NULL FROM pg_class WHERE relname = 'victim'), \
                    to_regclass('public.stolen') IS NULL, to_regclass('public.renamed') IS NULL",
            &[],
        )
        .await
        .expect("victim still exists");
    assert_eq!(row.get::<_, i64>(0), 3, "rows intact");
    assert!(row.get::<_, bool>(1), "no grants");
    assert!(
        row.get::<_, bool>(2) && row.get::<_, bool>(3),
        "no new or renamed tables"
    );
    assert!(
        !std::path::Path::new(&format!("/tmp/warden_pwned_{}", h.db)).exists(),
        "no program ran"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dangerous_sql_never_runs_simple_or_extended() {
    let h = start_with(Setup {
        policy: READ_ONLY.into(),
        ..Setup::default()
    })
    .await;
    h.direct()
        .await
        .batch_execute("CREATE TABLE victim (id int); INSERT INTO victim VALUES (1),(2),(3)")
        .await
        .expect("setup");
    let c = h.alice().await;
    for (sql, must_deny) in cases(&h.db) {
        let simple = within(10, c.batch_execute(&sql)).await;
        if must_deny {
            let e = simple.expect_err(&sql);
            assert_eq!(
                sqlstate(&e).as_deref(),
                Some("42501"),
                "simple: {sql}: {e:?}"
            );
        }
        let _ = within(10, c.batch_execute("ROLLBACK")).await;
        let extended = within(10, c.query(sql.as_str(), &[])).await;
        if must_deny {
            let e = extended.expect_err(&sql);
            assert_eq!(
                sqlstate(&e).as_deref(),
                Some("42501"),
                "extended: {sql}: {e:?}"
            );
        }
        let _ = within(10, c.batch_execute("ROLLBACK")).await;
        assert_intact(&h).await;
    }
    // the session survived all of it
    let n: i64 = within(10, c.query_one("SELECT count(*) FROM victim", &[]))
        .await
        .expect("usable")
        .get(0);
    assert_eq!(n, 3);
}
