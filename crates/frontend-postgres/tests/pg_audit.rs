//! What the audit log records for PostgreSQL sessions, retry-mode approvals, and failing
//! closed when the audit log cannot write.

mod pg_support;

use std::time::Duration;

use pg_support::*;
use warden_audit::{EventKind, Query, Record};

async fn records(h: &Harness) -> Vec<Record> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.gate
        .audit()
        .query(&Query {
            limit: 1000,
            ..Query::default()
        })
        .expect("audit query")
        .records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_decisions_and_outcomes_are_audited() {
    let h = start().await;
    let c = h.alice().await;
    within(10, c.batch_execute("CREATE TABLE a (id int)"))
        .await
        .expect("create");
    within(
        10,
        c.execute(
            "INSERT INTO a VALUES ($1),($1),($1),($1),($1),($1),($1)",
            &[&7i32],
        ),
    )
    .await
    .expect("insert");
    within(10, c.batch_execute("SELECT * FROM a; SELECT 1"))
        .await
        .expect("select");
    let _ = within(10, c.batch_execute("DROP TABLE a"))
        .await
        .expect_err("denied");
    let _ = within(10, c.batch_execute("SELECT * FROM nonexistent"))
        .await
        .expect_err("upstream error");
    let recs = records(&h).await;
    let kinds: Vec<EventKind> = recs.iter().map(|r| r.event.kind).collect();
    for k in [
        EventKind::ConnectionOpened,
        EventKind::Authenticated,
        EventKind::ActionDecided,
        EventKind::ActionCompleted,
    ] {
        assert!(kinds.contains(&k), "{k:?} missing from {kinds:?}");
    }
    // Writes get an `ActionCompleted` after their durable decision; read-only allows one
    // `ActionDecided` that carries the outcome.
    let completed = |pred: &dyn Fn(&warden_audit::Outcome) -> bool| {
        recs.iter().any(|r| {
            matches!(
                r.event.kind,
                EventKind::ActionCompleted | EventKind::ActionDecided
            ) && r.event.outcome.as_ref().is_some_and(pred)
        })
    };
    let select_records = recs
        .iter()
        .filter(|r| {
            r.event
                .action
                .as_ref()
                .is_some_and(|a| a.raw.starts_with("SELECT * FROM nonexistent"))
        })
        .count();
    assert_eq!(select_records, 1, "a read-only allow is one record");
    assert!(
        completed(&|o| o.status.as_deref() == Some("INSERT 0 7") && o.rows == Some(7)),
        "extended outcome"
    );
    assert!(
        completed(&|o| o.status.as_deref() == Some("SELECT 1") && o.rows == Some(8)),
        "multi-statement rows summed"
    );
    assert!(
        completed(&|o| o.error.as_deref().is_some_and(|e| e.starts_with("42P01"))),
        "upstream error recorded"
    );
    let denied = recs.iter().find(|r| {
        r.event.kind == EventKind::ActionDecided
            && r.event
                .action
                .as_ref()
                .is_some_and(|a| a.raw == "DROP TABLE a")
    });
    let verdict = denied
        .and_then(|r| r.event.verdict.clone())
        .expect("deny decision recorded");
    assert_eq!(verdict.decision, "deny");
    assert!(verdict.rules.iter().any(|r| r == "no-drop-or-truncate"));
    let session = denied
        .and_then(|r| r.event.session.clone())
        .expect("session id");
    assert!(recs.iter().any(|r| r.event.kind == EventKind::Authenticated
        && r.event.session.as_deref() == Some(session.as_str())));
    // credentials never reach the audit log
    let all =
        serde_json::to_string(&recs.iter().map(|r| &r.event).collect::<Vec<_>>()).expect("json");
    assert!(!all.contains(ALICE_PW));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_mode_refuses_at_once_then_runs_the_approved_statement_once() {
    let policy = r#"
version: 1
rules:
  - name: unbounded-delete-retry
    when: { sql: { statements: [delete], without_where: true } }
    action: hold
    approval: { approvers: { roles: [dba] }, required: 1, timeout: 1m, wait: false }
"#;
    let h = start_with(Setup {
        policy: policy.into(),
        ..Setup::default()
    })
    .await;
    h.direct()
        .await
        .batch_execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1),(2)")
        .await
        .expect("setup");
    let c = h.alice().await;
    let e = within(10, c.batch_execute("DELETE FROM t"))
        .await
        .expect_err("refused at once");
    assert_eq!(sqlstate(&e).as_deref(), Some("42501"));
    let req = h.pending().await;
    assert!(
        message(&e).contains(&req.id),
        "names the approval: {}",
        message(&e)
    );
    h.approve(&req.id).await;
    within(10, c.batch_execute("DELETE FROM t"))
        .await
        .expect("approved statement runs");
    let n: i64 = h
        .direct()
        .await
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 0);
    h.direct()
        .await
        .batch_execute("INSERT INTO t VALUES (3)")
        .await
        .expect("refill");
    let e = within(10, c.batch_execute("DELETE FROM t"))
        .await
        .expect_err("single use");
    assert_eq!(sqlstate(&e).as_deref(), Some("42501"));
    let n: i64 = h
        .direct()
        .await
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_failure_fails_closed() {
    let h = start().await;
    h.direct()
        .await
        .batch_execute("CREATE TABLE t (id int)")
        .await
        .expect("setup");
    let c = h.alice().await;
    within(10, c.batch_execute("INSERT INTO t VALUES (1)"))
        .await
        .expect("works while audit is up");
    h.gate.audit().shutdown().expect("stop the audit log");
    let e = within(10, c.batch_execute("INSERT INTO t VALUES (2)"))
        .await
        .expect_err("fail closed");
    assert_eq!(sqlstate(&e).as_deref(), Some("58000"), "{e:?}");
    assert!(message(&e).contains("audit"));
    let n: i64 = h
        .direct()
        .await
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 1, "the statement never reached the database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_execute_of_a_prepared_statement_gets_an_outcome() {
    let h = start().await;
    h.direct()
        .await
        .batch_execute("CREATE TABLE p (id int)")
        .await
        .expect("setup");
    let c = h.alice().await;
    let sql = "INSERT INTO p VALUES ($1)";
    let stmt = within(10, c.prepare(sql)).await.expect("prepare");
    for i in 0..3i32 {
        within(10, c.execute(&stmt, &[&i])).await.expect("execute");
    }
    let recs = records(&h).await;
    let decided: Vec<u64> = recs
        .iter()
        .filter(|r| {
            r.event.kind == EventKind::ActionDecided
                && r.event.action.as_ref().is_some_and(|a| a.raw == sql)
        })
        .map(|r| r.seq)
        .collect();
    assert_eq!(decided.len(), 1, "decided once, at Parse");
    let reference = format!("decided at #{}", decided[0]);
    let outcomes: Vec<_> = recs
        .iter()
        .filter(|r| {
            r.event.kind == EventKind::ActionCompleted
                && r.event
                    .detail
                    .as_deref()
                    .is_some_and(|d| d == reference || d.starts_with(&format!("{reference};")))
        })
        .collect();
    assert_eq!(outcomes.len(), 3, "{outcomes:#?}");
    assert!(outcomes.iter().all(|r| r
        .event
        .outcome
        .as_ref()
        .is_some_and(|o| o.status.as_deref() == Some("INSERT 0 1") && o.rows == Some(1))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_prepared_statement_runs_once() {
    let h = start().await;
    h.direct()
        .await
        .batch_execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1),(2),(3)")
        .await
        .expect("setup");
    let c = h.alice().await;
    let prepare = async { c.prepare("DELETE FROM t").await };
    let approve = async {
        let req = h.pending().await;
        h.approve(&req.id).await;
        req
    };
    let (stmt, req) = within(30, async { tokio::join!(prepare, approve) }).await;
    let stmt = stmt.expect("prepared after approval");
    let n = within(10, c.execute(&stmt, &[])).await.expect("first run");
    assert_eq!(n, 3, "the approved execution runs");
    h.direct()
        .await
        .batch_execute("INSERT INTO t VALUES (7),(8)")
        .await
        .expect("refill");
    let e = within(10, c.execute(&stmt, &[]))
        .await
        .expect_err("a second execution needs a new approval");
    assert_eq!(sqlstate(&e).as_deref(), Some("42501"), "{e:?}");
    assert!(message(&e).contains(&req.id), "{}", message(&e));
    let left: i64 = within(10, c.query_one("SELECT count(*) FROM t", &[]))
        .await
        .expect("the session stays usable")
        .get(0);
    assert_eq!(left, 2, "nothing was deleted by the refused execution");
    let refused = records(&h)
        .await
        .into_iter()
        .filter(|r| r.event.kind == EventKind::ActionDecided)
        .filter(|r| r.event.approval.as_ref().is_some_and(|a| a.id == req.id))
        .filter(|r| {
            r.event
                .verdict
                .as_ref()
                .is_some_and(|v| v.decision == "deny")
        })
        .count();
    assert_eq!(refused, 1, "the refused re-execution is audited");
}
