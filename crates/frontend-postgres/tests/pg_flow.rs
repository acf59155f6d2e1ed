//! End-to-end: real clients (tokio-postgres, psql, a raw pipelining client) through the
//! PostgreSQL front-end to the machine's real PostgreSQL.

mod pg_support;

use std::time::Duration;

use pg_support::raw::{self, Raw};
use pg_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_reads_and_writes_simple_and_prepared() {
    let h = start().await;
    let c = h.alice().await;
    within(
        20,
        c.batch_execute(
            "CREATE TABLE t (id int primary key, v text); INSERT INTO t VALUES (1, 'a')",
        ),
    )
    .await
    .expect("simple");
    let ins = within(10, c.prepare("INSERT INTO t VALUES ($1, $2)"))
        .await
        .expect("prepare");
    for i in 2..=5 {
        within(10, c.execute(&ins, &[&i, &format!("v{i}")]))
            .await
            .expect("execute");
    }
    let rows = within(
        10,
        c.query("SELECT id, v FROM t WHERE id >= $1 ORDER BY id", &[&3i32]),
    )
    .await
    .expect("query");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].get::<_, String>(1), "v3");
    let n: i64 = h
        .direct()
        .await
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_statements_get_42501_and_the_session_stays_usable() {
    let h = start().await;
    let c = h.alice().await;
    within(
        20,
        c.batch_execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1)"),
    )
    .await
    .expect("setup");

    // simple protocol, multi-statement: the whole string is one decision
    let e = within(10, c.batch_execute("SELECT 1; DROP TABLE t"))
        .await
        .expect_err("denied");
    assert_eq!(sqlstate(&e).as_deref(), Some("42501"), "{e:?}");
    assert!(
        message(&e).contains("no-drop-or-truncate"),
        "{}",
        message(&e)
    );
    assert!(message(&e).contains("blocked here"));
    // extended protocol: denied at Parse
    let e = within(10, c.prepare("TRUNCATE t"))
        .await
        .expect_err("denied at parse");
    assert_eq!(sqlstate(&e).as_deref(), Some("42501"));
    let e = within(10, c.query("DROP TABLE t", &[]))
        .await
        .expect_err("denied");
    assert_eq!(sqlstate(&e).as_deref(), Some("42501"));
    // still usable, and nothing ran
    let n: i64 = within(10, c.query_one("SELECT count(*) FROM t", &[]))
        .await
        .expect("usable")
        .get(0);
    assert_eq!(n, 1);

    // inside a transaction block: the block fails like PostgreSQL's own errors
    within(10, c.batch_execute("BEGIN; INSERT INTO t VALUES (2)"))
        .await
        .expect("begin");
    let e = within(10, c.batch_execute("DROP TABLE t"))
        .await
        .expect_err("denied in tx");
    assert_eq!(sqlstate(&e).as_deref(), Some("42501"));
    let e = within(10, c.batch_execute("SELECT 1"))
        .await
        .expect_err("tx aborted");
    assert_eq!(sqlstate(&e).as_deref(), Some("25P02"));
    within(10, c.batch_execute("ROLLBACK"))
        .await
        .expect("rollback");
    let n: i64 = within(10, c.query_one("SELECT count(*) FROM t", &[]))
        .await
        .expect("after rollback")
        .get(0);
    assert_eq!(n, 1, "the insert in the failed block was rolled back");
    let exists: bool = h
        .direct()
        .await
        .query_one("SELECT to_regclass('public.t') IS NOT NULL", &[])
        .await
        .expect("check")
        .get(0);
    assert!(exists);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_parse_mid_pipeline_discards_until_sync() {
    let h = start().await;
    h.direct()
        .await
        .batch_execute("CREATE TABLE t (id int)")
        .await
        .expect("setup");
    let mut r = Raw::login(h.addr, "alice", ALICE_PW, &h.db).await;
    let mut batch = Vec::new();
    batch.extend(raw::parse_bind_execute("s1", "INSERT INTO t VALUES (1)"));
    batch.extend(raw::parse_bind_execute("s2", "DROP TABLE t"));
    batch.extend(raw::parse_bind_execute("s3", "INSERT INTO t VALUES (3)"));
    batch.extend(raw::sync());
    // a second batch in the same write: pipelining across Syncs
    batch.extend(raw::parse_bind_execute("", "SELECT count(*) FROM t"));
    batch.extend(raw::sync());
    r.send(&batch).await;
    let first = r.until_ready().await;
    let tags: Vec<u8> = first.iter().map(|(t, _)| *t).collect();
    assert_eq!(tags, b"12CEZ".to_vec(), "{first:?}");
    let (code, msg) = raw::error_fields(&first[3].1);
    assert_eq!(code, "42501");
    assert!(msg.contains("no-drop-or-truncate"));
    let second = r.until_ready().await;
    let row = second.iter().find(|(t, _)| *t == b'D').expect("data row");
    // the implicit transaction of the failed batch was rolled back, as in PostgreSQL
    assert!(row.1.ends_with(b"0"), "{second:?}");
    // s2 never existed upstream: binding it fails like an unknown statement
    let mut again = raw::bind("", "s2");
    again.extend(raw::execute(""));
    again.extend(raw::sync());
    r.send(&again).await;
    let third = r.until_ready().await;
    let (code, _) = raw::error_fields(&third[0].1);
    assert_eq!(code, "26000", "{third:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_then_approve_runs_exactly_once() {
    let h = start().await;
    h.direct()
        .await
        .batch_execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1),(2),(3)")
        .await
        .expect("setup");
    let h2 = &h;
    let run = async { h2.psql("alice", ALICE_PW, &[], "DELETE FROM t;\n").await };
    let approve = async {
        let req = h2.pending().await;
        h2.approve(&req.id).await;
        req
    };
    let ((ok, out, err), req) = within(30, async { tokio::join!(run, approve) }).await;
    assert!(ok, "{out} {err}");
    assert!(
        err.contains("held for approval") && err.contains(&req.id),
        "notice names the approval: {err}"
    );
    assert!(out.contains("DELETE 3"), "{out}");
    let n: i64 = h
        .direct()
        .await
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 0);
    // the approval is used up: the same statement is held again, not run
    let c = h.alice().await;
    h.direct()
        .await
        .batch_execute("INSERT INTO t VALUES (9)")
        .await
        .expect("refill");
    let q = tokio::spawn(async move { c.batch_execute("DELETE FROM t").await });
    let again = h.pending().await;
    assert_ne!(again.id, req.id);
    h.deny(&again.id).await;
    let e = within(10, q).await.expect("join").expect_err("denied");
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
async fn hold_expires_with_57014() {
    let h = start().await;
    h.direct()
        .await
        .batch_execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
        .await
        .expect("setup");
    let c = h.alice().await;
    let e = within(20, c.execute("UPDATE t SET id = 2", &[]))
        .await
        .expect_err("expired");
    assert_eq!(sqlstate(&e).as_deref(), Some("57014"), "{e:?}");
    let n: i64 = within(10, c.query_one("SELECT count(*) FROM t WHERE id = 1", &[]))
        .await
        .expect("usable")
        .get(0);
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnect_while_held_withdraws_and_never_runs() {
    let h = start().await;
    h.direct()
        .await
        .batch_execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
        .await
        .expect("setup");
    let mut r = Raw::login(h.addr, "alice", ALICE_PW, &h.db).await;
    r.send(&raw::query("DELETE FROM t")).await;
    let (tag, _) = r.recv().await.expect("notice");
    assert_eq!(tag, b'N');
    let req = h.pending().await;
    drop(r);
    for _ in 0..100 {
        if h.gate.approvals().get(&req.id).map(|r| r.state)
            != Some(warden_approval::ApprovalState::Pending)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        h.gate.approvals().get(&req.id).map(|r| r.state),
        Some(warden_approval::ApprovalState::Withdrawn)
    );
    let bob = warden_inspect::Actor {
        name: "bob".into(),
        roles: vec!["dba".into()],
        client_addr: None,
        alerts: Vec::new(),
    };
    assert!(
        h.gate
            .approvals()
            .approve(&req.id, &bob, None)
            .await
            .is_err(),
        "a withdrawn request cannot be approved"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let n: i64 = h
        .direct()
        .await
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 1, "the held statement never ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_password_is_refused_audited_and_throttled() {
    let h = start().await;
    let e = h.connect("alice", "wrong").await.expect_err("bad password");
    assert_eq!(sqlstate(&e).as_deref(), Some("28P01"), "{e:?}");
    let e = h.connect("nobody", "x").await.expect_err("unknown user");
    assert_eq!(sqlstate(&e).as_deref(), Some("28P01"));
    for _ in 0..6 {
        let _ = h.connect("alice", "wrong").await;
    }
    let e = h
        .connect("alice", ALICE_PW)
        .await
        .expect_err("throttled even with the right password");
    assert!(message(&e).contains("too many failed logins"), "{e:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let page = h
        .gate
        .audit()
        .query(&warden_audit::Query::default())
        .expect("audit query");
    let failures: Vec<_> = page
        .records
        .iter()
        .filter(|r| r.event.kind == warden_audit::EventKind::AuthFailed)
        .collect();
    assert!(failures.len() >= 3, "{}", failures.len());
    // Method and reason; the roles of the account that was tried (none: unknown user).
    let find = |detail: &str| {
        failures
            .iter()
            .find(|r| r.event.detail.as_deref() == Some(detail))
            .and_then(|r| r.event.actor.clone())
            .unwrap_or_else(|| panic!("no {detail:?} in {failures:?}"))
    };
    let alice = find("method=scram-sha-256; wrong password");
    assert_eq!(
        (alice.name.as_str(), alice.roles.clone()),
        ("alice", vec!["developer".to_string()])
    );
    let nobody = find("method=scram-sha-256; unknown user");
    assert!(nobody.roles.is_empty());
    assert!(failures.iter().any(|r| r
        .event
        .detail
        .as_deref()
        .is_some_and(|d| d.starts_with("method=scram-sha-256; throttled ("))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_reaches_the_right_upstream_backend() {
    // pg_sleep is not a known-pure function, so it is opaque: allow opaque here.
    let policy = format!("{POLICY}defaults: {{ unparsed: hold, opaque: allow }}\n");
    let h = start_with(Setup {
        policy,
        ..Setup::default()
    })
    .await;
    let c = h.alice().await;
    let token = c.cancel_token();
    let q = tokio::spawn(async move { c.batch_execute("SELECT pg_sleep(30)").await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    within(10, token.cancel_query(tokio_postgres::NoTls))
        .await
        .expect("cancel sent");
    let e = within(10, q).await.expect("join").expect_err("canceled");
    assert_eq!(sqlstate(&e).as_deref(), Some("57014"), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_in_and_out_through_psql() {
    let h = start().await;
    h.direct()
        .await
        .batch_execute("CREATE TABLE t (id int, v text)")
        .await
        .expect("setup");
    let mut data = String::from("COPY t FROM STDIN;\n");
    for i in 0..5000 {
        data.push_str(&format!("{i}\tvalue {i}\n"));
    }
    data.push_str("\\.\nCOPY (SELECT id FROM t WHERE id % 1000 = 0 ORDER BY id) TO STDOUT;\n");
    let (ok, out, err) = h.psql("alice", ALICE_PW, &[], &data).await;
    assert!(ok && err.is_empty(), "{out} {err}");
    assert!(out.contains("COPY 5000"), "{out}");
    assert!(out.contains("0\n1000\n2000\n3000\n4000\n"), "{out}");
    let n: i64 = h
        .direct()
        .await
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 5000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_sees_the_deny_message_and_keeps_going() {
    let h = start().await;
    h.direct()
        .await
        .batch_execute("CREATE TABLE secrets (s text); CREATE TABLE t (id int)")
        .await
        .expect("setup");
    let (ok, out, err) = h
        .psql("alice", ALICE_PW, &[], "SELECT * FROM secrets;\nDROP TABLE t;\nINSERT INTO t VALUES (1);\nSELECT count(*) FROM t;\n")
        .await;
    assert!(ok, "{err}");
    assert!(
        err.contains("ERROR:  the secrets table is off limits"),
        "{err}"
    );
    assert!(err.contains("DROP and TRUNCATE are blocked here"), "{err}");
    assert!(
        out.contains("INSERT 0 1") && out.contains("     1"),
        "{out}"
    );
}
