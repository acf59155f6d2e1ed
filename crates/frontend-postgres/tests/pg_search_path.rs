//! `search_path`: unqualified function names count as pure builtins only while the
//! builtins resolve first. After `SET search_path = myschema, pg_catalog` an unqualified
//! `lower(x)` runs `myschema.lower` — user code, which can write — so it is opaque.

mod pg_support;

use pg_support::*;

/// The usual rules, with opaque statements denied: the test sees the classification in
/// the answer.
fn opaque_denied() -> Setup {
    Setup {
        policy: format!("{POLICY}defaults: {{ unparsed: deny, opaque: deny }}\n"),
        ..Setup::default()
    }
}

/// `myschema.lower(text)` writes to `calls` whenever it runs.
async fn with_shadowing_function(h: &Harness) {
    h.direct()
        .await
        .batch_execute(
            "CREATE TABLE calls (n int);
             CREATE SCHEMA myschema;
             CREATE FUNCTION myschema.lower(text) RETURNS text LANGUAGE sql
               AS $$ INSERT INTO calls VALUES (1) RETURNING 'shadowed'::text $$;",
        )
        .await
        .expect("setup");
}

async fn calls(h: &Harness) -> i64 {
    h.direct()
        .await
        .query_one("SELECT count(*) FROM calls", &[])
        .await
        .expect("count")
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtins_stay_trusted_under_the_default_search_path() {
    let h = start_with(opaque_denied()).await;
    with_shadowing_function(&h).await;
    let c = h.alice().await;
    let v: String = within(10, c.query_one("SELECT lower('ABC')", &[]))
        .await
        .expect("a pure builtin")
        .get(0);
    assert_eq!(v, "abc");
    // A SET that keeps the builtins first changes nothing.
    within(10, c.batch_execute("SET search_path = public, myschema"))
        .await
        .expect("set");
    within(10, c.batch_execute("SELECT lower('ABC')"))
        .await
        .expect("still the builtin");
    assert_eq!(calls(&h).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_moving_pg_catalog_down_unqualified_calls_are_opaque() {
    let h = start_with(opaque_denied()).await;
    with_shadowing_function(&h).await;
    let c = h.alice().await;
    within(
        10,
        c.batch_execute("SET search_path = myschema, pg_catalog"),
    )
    .await
    .expect("SET itself is allowed");
    for sql in ["SELECT lower('ABC')", "SELECT * FROM calls WHERE n = 1"] {
        let e = within(10, c.batch_execute(sql))
            .await
            .expect_err("opaque now");
        assert_eq!(sqlstate(&e).as_deref(), Some("42501"), "{sql}: {e:?}");
        // Extended protocol too.
        let e = within(10, c.prepare(sql)).await.expect_err("opaque now");
        assert_eq!(sqlstate(&e).as_deref(), Some("42501"), "{sql}: {e:?}");
    }
    assert_eq!(calls(&h).await, 0, "the user function never ran");
    // A call spelled with its schema is still known.
    let v: String = within(10, c.query_one("SELECT pg_catalog.lower('ABC')", &[]))
        .await
        .expect("pg_catalog.lower is the builtin")
        .get(0);
    assert_eq!(v, "abc");
    // Plain reads stay plain.
    within(10, c.query("SELECT * FROM public.calls", &[]))
        .await
        .expect("a plain read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_config_of_the_search_path_counts_too() {
    // set_config is opaque itself: allow opaque statements, except opaque ones on `calls`.
    let policy = format!(
        "{POLICY}  - name: opaque-on-calls\n    when: {{ sql: {{ opaque: true, objects: [calls] }} }}\n    action: deny\ndefaults: {{ unparsed: deny, opaque: allow }}\n"
    );
    let h = start_with(Setup {
        policy,
        ..Setup::default()
    })
    .await;
    with_shadowing_function(&h).await;
    let c = h.alice().await;
    let read = "SELECT lower('ABC') FROM calls";
    within(10, c.batch_execute(read))
        .await
        .expect("builtins first: not opaque");
    within(
        10,
        c.batch_execute("SELECT set_config('search_path', 'myschema, pg_catalog', false)"),
    )
    .await
    .expect("allowed opaque");
    let e = within(10, c.batch_execute(read))
        .await
        .expect_err("opaque now");
    assert_eq!(sqlstate(&e).as_deref(), Some("42501"), "{e:?}");
    assert!(message(&e).contains("opaque-on-calls"), "{}", message(&e));
    assert_eq!(calls(&h).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_default_that_moves_pg_catalog_down_counts_from_login() {
    let h = start_with(opaque_denied()).await;
    with_shadowing_function(&h).await;
    h.direct()
        .await
        .batch_execute(&format!(
            "ALTER DATABASE {} SET search_path = myschema, public, pg_catalog",
            h.db
        ))
        .await
        .expect("database default");
    let c = h.alice().await;
    let e = within(10, c.batch_execute("SELECT lower('ABC')"))
        .await
        .expect_err("opaque from the first statement");
    assert_eq!(sqlstate(&e).as_deref(), Some("42501"), "{e:?}");
    assert_eq!(calls(&h).await, 0, "the user function never ran");
}
