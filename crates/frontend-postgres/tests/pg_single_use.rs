//! An approval covers one execution: a held-then-approved Parse runs once, and neither a
//! second Execute, nor SQL `EXECUTE` of the same named statement, nor a protocol Execute
//! of a statement made with SQL `PREPARE` runs it again without a decision.

mod pg_support;

use pg_support::raw::{self, Raw};
use pg_support::*;

async fn rows_left(h: &Harness) -> i64 {
    h.direct()
        .await
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .expect("count")
        .get(0)
}

fn error_code(messages: &[(u8, Vec<u8>)]) -> Option<(String, String)> {
    messages
        .iter()
        .find(|(tag, _)| *tag == b'E')
        .map(|(_, body)| raw::error_fields(body))
}

async fn setup() -> (Harness, Raw) {
    let h = start().await;
    h.direct()
        .await
        .batch_execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1),(2),(3)")
        .await
        .expect("setup");
    let raw = Raw::login(h.addr, "alice", ALICE_PW, &h.db).await;
    (h, raw)
}

/// Sends `messages`, approves the request it raises, and returns the answer up to
/// ReadyForQuery.
async fn approved(h: &Harness, raw: &mut Raw, messages: &[u8]) -> Vec<(u8, Vec<u8>)> {
    raw.send(messages).await;
    let req = h.pending().await;
    h.approve(&req.id).await;
    within(20, raw.until_ready()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_named_parse_runs_once_then_needs_a_new_decision() {
    let (h, mut c) = setup().await;
    let mut first = raw::parse("s1", "DELETE FROM t");
    first.extend(raw::bind("", "s1"));
    first.extend(raw::execute(""));
    first.extend(raw::sync());
    let answer = approved(&h, &mut c, &first).await;
    assert_eq!(error_code(&answer), None, "the approved execution runs");
    assert_eq!(rows_left(&h).await, 0);
    h.direct()
        .await
        .batch_execute("INSERT INTO t VALUES (7),(8)")
        .await
        .expect("refill");

    // A second protocol Execute of s1 is refused.
    let mut again = raw::bind("", "s1");
    again.extend(raw::execute(""));
    again.extend(raw::sync());
    c.send(&again).await;
    let answer = within(10, c.until_ready()).await;
    assert_eq!(error_code(&answer).map(|e| e.0).as_deref(), Some("42501"));
    assert_eq!(rows_left(&h).await, 2);

    // SQL EXECUTE of the same named statement is a statement of its own (opaque: held
    // by the default policy), not a reuse of the approval.
    c.send(&raw::query("EXECUTE s1")).await;
    let req = h.pending().await;
    assert_eq!(req.action.raw, "EXECUTE s1");
    assert!(
        req.rules.iter().any(|r| r == "default-opaque"),
        "{:?}",
        req.rules
    );
    // Disconnecting withdraws it; nothing ran.
    drop(c);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(rows_left(&h).await, 2, "nothing ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_made_by_sql_prepare_cannot_be_run_by_protocol_execute() {
    let (h, mut c) = setup().await;
    // The PREPARE carries the unbounded DELETE: held, approved, run once (it only
    // prepares).
    let answer = approved(&h, &mut c, &raw::query("PREPARE p AS DELETE FROM t")).await;
    assert_eq!(error_code(&answer), None, "PREPARE ran");
    assert_eq!(rows_left(&h).await, 3, "PREPARE deletes nothing");
    // Binding and executing `p` through the protocol would run the DELETE with no
    // decision at all: refused.
    for _ in 0..2 {
        let mut run = raw::bind("", "p");
        run.extend(raw::execute(""));
        run.extend(raw::sync());
        c.send(&run).await;
        let answer = within(10, c.until_ready()).await;
        let (code, message) = error_code(&answer).expect("refused");
        assert_eq!(code, "42501", "{message}");
        assert!(message.contains("\"p\""), "{message}");
    }
    assert_eq!(rows_left(&h).await, 3, "the DELETE never ran");
    // The session stays usable.
    c.send(&raw::query("SELECT 1")).await;
    assert_eq!(error_code(&within(10, c.until_ready()).await), None);
}
