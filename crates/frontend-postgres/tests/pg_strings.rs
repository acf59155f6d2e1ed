//! `standard_conforming_strings`: SQL inspection reads literals as with `on`. With it off,
//! backslashes move where a literal ends and `SELECT 'a\'' ; DROP TABLE t; --'` — one
//! harmless literal to the inspector — runs a DROP on the server. Warden watches the
//! upstream's ParameterStatus and refuses every statement while the setting is not `on`.

mod pg_support;

use pg_support::*;
use warden_audit::{EventKind, Query};

/// The smuggled statement: harmless to an inspector with standard strings, a DROP to a
/// server without them.
const SMUGGLED: &str = r"SELECT 'a\'' ; DROP TABLE t; --'";

/// The usual test rules, but opaque and unparsed statements pass: the refusal must not
/// depend on the default policy holding them.
fn permissive() -> Setup {
    Setup {
        policy: format!("{POLICY}defaults: {{ unparsed: allow, opaque: allow }}\n"),
        ..Setup::default()
    }
}

async fn table_exists(h: &Harness) -> bool {
    h.direct()
        .await
        .query_one("SELECT to_regclass('public.t') IS NOT NULL", &[])
        .await
        .expect("check")
        .get(0)
}

fn assert_refused(e: &tokio_postgres::Error) {
    assert_eq!(sqlstate(e).as_deref(), Some("42501"), "{e:?}");
    assert!(
        message(e).contains("standard_conforming_strings"),
        "names the setting: {}",
        message(e)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_default_of_off_refuses_every_statement() {
    let h = start_with(permissive()).await;
    let admin = h.direct().await;
    admin
        .batch_execute("CREATE TABLE t (id int)")
        .await
        .expect("setup");
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} SET standard_conforming_strings = off",
            h.db
        ))
        .await
        .expect("database default");
    let c = h.alice().await;
    let e = within(10, c.batch_execute(SMUGGLED))
        .await
        .expect_err("refused");
    assert_refused(&e);
    let e = within(10, c.query("SELECT $1::int", &[&1i32]))
        .await
        .expect_err("extended protocol refused too");
    assert_refused(&e);
    assert!(table_exists(&h).await, "the smuggled DROP never ran");
    // The refusal is audited as a denial.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let recs = h
        .gate
        .audit()
        .query(&Query {
            limit: 1000,
            ..Query::default()
        })
        .expect("audit")
        .records;
    assert!(recs.iter().any(|r| r.event.kind == EventKind::ActionDecided
        && r.event.action.as_ref().is_some_and(|a| a.raw == SMUGGLED)
        && r.event
            .verdict
            .as_ref()
            .is_some_and(|v| v.decision == "deny")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_it_off_in_the_session_refuses_what_follows() {
    let h = start_with(permissive()).await;
    h.direct()
        .await
        .batch_execute("CREATE TABLE t (id int)")
        .await
        .expect("setup");
    let c = h.alice().await;
    within(10, c.batch_execute("SELECT 1"))
        .await
        .expect("works while on");
    within(10, c.batch_execute("SET standard_conforming_strings = off"))
        .await
        .expect("opaque is allowed by this policy");
    let e = within(10, c.batch_execute(SMUGGLED))
        .await
        .expect_err("refused");
    assert_refused(&e);
    assert!(table_exists(&h).await, "the smuggled DROP never ran");

    // Through the extended protocol and set_config in a fresh session.
    let c = h.alice().await;
    within(
        10,
        c.query(
            "SELECT set_config('standard_conforming_strings', 'off', false)",
            &[],
        ),
    )
    .await
    .expect("allowed by this policy");
    let e = within(10, c.batch_execute(SMUGGLED))
        .await
        .expect_err("refused");
    assert_refused(&e);
    assert!(table_exists(&h).await, "the smuggled DROP never ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_it_is_opaque_and_held_by_default() {
    let h = start().await;
    let c = h.alice().await;
    let set = tokio::spawn(async move {
        c.batch_execute("SET standard_conforming_strings = off")
            .await
            .map(|_| c)
    });
    let req = h.pending().await;
    assert!(req.action.raw.contains("standard_conforming_strings"));
    assert!(
        req.rules.iter().any(|r| r == "default-opaque"),
        "{:?}",
        req.rules
    );
    // Disconnecting withdraws the request; the setting never changed.
    set.abort();
}
