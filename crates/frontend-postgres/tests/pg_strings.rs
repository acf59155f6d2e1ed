//! `standard_conforming_strings`: SQL inspection reads literals as with `on`. With it off,
//! backslashes move where a literal ends and `SELECT 'a\'' ; DROP TABLE t; --'` — one
//! harmless literal to the inspector — runs a DROP on the server. Warden watches the
//! upstream's ParameterStatus and refuses every statement while the setting is not `on`.

mod pg_support;

use pg_support::raw;
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

/// Sends `bytes` on a raw session and returns the (SQLSTATE, message) of every
/// ErrorResponse up to the `n`th ReadyForQuery.
async fn errors_until_ready(raw: &mut raw::Raw, bytes: &[u8], n: usize) -> Vec<(String, String)> {
    raw.send(bytes).await;
    let mut errors = Vec::new();
    for _ in 0..n {
        for (tag, body) in within(10, raw.until_ready()).await {
            if tag == b'E' {
                errors.push(raw::error_fields(&body));
            }
        }
    }
    errors
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_pipelined_right_behind_turning_it_off_waits_for_the_setting() {
    let h = start_with(permissive()).await;
    h.direct()
        .await
        .batch_execute("CREATE TABLE t (id int)")
        .await
        .expect("setup");
    let mut c = raw::Raw::login(h.addr, "alice", ALICE_PW, &h.db).await;
    // Both queries in one write: the second arrives before the server has answered
    // the first (and before its ParameterStatus).
    let mut both = raw::query("SET standard_conforming_strings = off");
    both.extend(raw::query(SMUGGLED));
    let errors = errors_until_ready(&mut c, &both, 2).await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "42501", "{errors:?}");
    assert!(errors[0].1.contains(STANDARD), "{errors:?}");
    assert!(table_exists(&h).await, "the smuggled DROP never ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parse_pipelined_behind_a_setting_change_before_sync_is_refused() {
    let h = start_with(permissive()).await;
    let mut c = raw::Raw::login(h.addr, "alice", ALICE_PW, &h.db).await;
    let mut pipeline = raw::parse(
        "",
        "SELECT set_config('standard_conforming_strings', 'off', false)",
    );
    pipeline.extend(raw::bind("", ""));
    pipeline.extend(raw::execute(""));
    pipeline.extend(raw::parse_bind_execute("", r"SELECT 'a\' , 1"));
    pipeline.extend(raw::sync());
    let errors = errors_until_ready(&mut c, &pipeline, 1).await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "42501", "{errors:?}");
    assert!(errors[0].1.contains("Sync"), "{errors:?}");
    // The refusal failed the pipeline's implicit transaction, so the change was rolled
    // back with it: the session reads strings as before and carries on.
    let errors =
        errors_until_ready(&mut c, &raw::query("SHOW standard_conforming_strings"), 1).await;
    assert!(errors.is_empty(), "{errors:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_without_a_backslash_pass_behind_a_setting_change() {
    let h = start_with(permissive()).await;
    let mut c = raw::Raw::login(h.addr, "alice", ALICE_PW, &h.db).await;
    // A batch in the style of a driver: an opaque statement (it may change the
    // setting), then more Parses before Sync. None has a backslash: they read the same
    // either way and run.
    let mut pipeline = Vec::new();
    for sql in [
        "SELECT set_config('application_name', 'batch', false)",
        "SELECT 'x', 1",
        "SELECT 2",
    ] {
        pipeline.extend(raw::parse_bind_execute("", sql));
    }
    pipeline.extend(raw::sync());
    assert!(errors_until_ready(&mut c, &pipeline, 1).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordinary_pipelines_are_not_held_up() {
    let h = start_with(permissive()).await;
    let mut c = raw::Raw::login(h.addr, "alice", ALICE_PW, &h.db).await;
    let mut pipeline = Vec::new();
    for i in 0..3 {
        pipeline.extend(raw::parse_bind_execute("", &format!("SELECT {i}")));
    }
    pipeline.extend(raw::sync());
    pipeline.extend(raw::query("SELECT 1; SELECT 2"));
    assert!(errors_until_ready(&mut c, &pipeline, 2).await.is_empty());
}

const STANDARD: &str = "standard_conforming_strings";
