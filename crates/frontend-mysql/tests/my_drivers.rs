//! Real drivers through Warden against the machine's MariaDB, under the shipped
//! `mysql-production` pack: Rust's `mysql_async` (text protocol and binary protocol:
//! COM_STMT_PREPARE / COM_STMT_EXECUTE) and Python's PyMySQL (text protocol). Reads
//! work; DROP/TRUNCATE are denied and unbounded writes held on every path — plain,
//! multi-statement, executable comment, prepared/executed, `PREPARE … FROM`, `USE` +
//! unqualified name; an approval runs the statement once. The database is checked
//! directly after every case, and the audit log where it matters.

mod my_support;

use my_support::checks::server_code;
use my_support::table::{count, refill, setup};
use my_support::{within, Harness};
use mysql_async::prelude::*;

/// The statements that must never drop or empty `t`, whatever the path (text protocol).
fn destructive_texts(db: &str) -> Vec<String> {
    vec![
        "DROP TABLE t".into(),
        "TRUNCATE TABLE t".into(),
        "SELECT 1; DROP TABLE t".into(),
        "SELECT 1 /*! ; TRUNCATE TABLE t */".into(),
        "/*!50000 DROP TABLE t */".into(),
        "/*M!100000 TRUNCATE TABLE t */".into(),
        format!("USE {db}; DROP TABLE t"),
        "PREPARE s FROM 'DROP TABLE t'".into(),
        "EXECUTE s".into(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_async_reads_work_in_text_and_binary_protocol_with_values_audited() {
    let h = my_support::start().await;
    setup(&h);
    let mut c = h.driver().await;
    let rows: Vec<(i32, String)> = c
        .query("SELECT id, v FROM t ORDER BY id")
        .await
        .expect("text read");
    assert_eq!(rows, [(1, "a".into()), (2, "b".into()), (3, "c".into())]);
    let v: Vec<String> = c
        .exec("SELECT v FROM t WHERE id = ? AND v <> ?", (2, "zz-marker"))
        .await
        .expect("binary read");
    assert_eq!(v, ["b"]);
    // the same prepared statement again, other values: each execute has its own record
    let v: Vec<String> = c
        .exec("SELECT v FROM t WHERE id = ? AND v <> ?", (3, "yy-marker"))
        .await
        .expect("binary read");
    assert_eq!(v, ["c"]);
    let first = h.audit_records("id = 2 AND v <> 'zz-marker'").await;
    assert!(
        !first.is_empty(),
        "the first execute is audited with its values"
    );
    assert!(first.iter().any(|e| e.outcome.is_some()), "{first:?}");
    assert!(!h
        .audit_records("id = 3 AND v <> 'yy-marker'")
        .await
        .is_empty());

    // a value after PASSWORD is masked like the same literal in a text statement
    let _: Vec<i32> = c
        .exec(
            "SELECT id AS password FROM t WHERE v = ?",
            ("hunter2-secret",),
        )
        .await
        .expect("binary read");
    assert!(!h
        .audit_records("password FROM t WHERE v = '***'")
        .await
        .is_empty());
    assert!(
        h.audit_lacks("hunter2-secret").await,
        "a bound password was stored"
    );

    // a long value is cut, with its length and digest
    let long = "q".repeat(5000);
    let _: Vec<String> = c
        .exec("SELECT v FROM t WHERE v = ?", (long.as_str(),))
        .await
        .expect("binary read");
    let cut = h.audit_records("[5000 bytes, sha256 ").await;
    assert!(!cut.is_empty());
    let raw = &cut[0].action.as_ref().expect("action").raw;
    assert!(raw.len() < 400, "{raw}");
    c.disconnect().await.expect("disconnect");
    assert_eq!(count(&h), "3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_async_drop_and_truncate_are_refused_on_every_path() {
    let h = my_support::start().await;
    setup(&h);
    let mut c = h.driver().await;
    let run = async {
        for sql in destructive_texts(&h.db) {
            let r = c.query_drop(sql.as_str()).await;
            assert_eq!(server_code(r), Some(1227), "{sql}");
            assert_eq!(count(&h), "3", "after {sql}");
        }
        // binary protocol: refused at COM_STMT_PREPARE, the upstream never sees it
        for sql in [
            "DROP TABLE t",
            "TRUNCATE TABLE t",
            "/*!50000 DROP TABLE t */",
        ] {
            let r = c.exec_drop(sql, ()).await;
            assert_eq!(server_code(r), Some(1227), "{sql}");
            assert_eq!(count(&h), "3", "after {sql}");
        }
    };
    // anything held on the way (PREPARE ... FROM, EXECUTE) is denied
    within(120, async {
        tokio::select! {
            () = run => {},
            () = h.deny_every_hold() => {},
        }
    })
    .await;
    // the session stays usable
    let n: Option<i64> = c.query_first("SELECT COUNT(*) FROM t").await.expect("read");
    assert_eq!(n, Some(3));
    let denied = h.audit_records("mysql-no-drop-or-truncate").await;
    assert!(denied.len() >= 5, "{}", denied.len());
}

/// One held write: `run` is started, the approval request must show `shown`, it is
/// approved through the approvals API and the statement must then complete.
async fn held_then_approved<F, T>(h: &Harness, run: F, shown: &str) -> T
where
    F: std::future::Future<Output = T>,
{
    let approve = async {
        let req = h.pending().await;
        assert!(
            req.action.raw.contains(shown),
            "the approver must see {shown:?}: {:?}",
            req.action.raw
        );
        h.approve(&req.id).await;
    };
    let (out, ()) = within(60, async { tokio::join!(run, approve) }).await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_async_unbounded_writes_are_held_on_every_path_and_run_once_approved() {
    let h = my_support::start().await;
    setup(&h);
    let mut c = h.driver().await;
    let use_db = format!("USE {}; DELETE FROM t", h.db);
    let texts = [
        ("DELETE FROM t", "DELETE FROM t"),
        ("SELECT 1; DELETE FROM t", "DELETE FROM t"),
        ("/*!50000 DELETE FROM t */", "DELETE FROM t"),
        (use_db.as_str(), "DELETE FROM t"),
    ];
    for (sql, shown) in texts {
        let r = held_then_approved(&h, c.query_drop(sql), shown).await;
        r.unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(count(&h), "0", "after {sql}");
        refill(&h);
    }

    // binary protocol: the prepare is not held (it runs nothing); the execute is, and
    // the approver sees the bound value
    let stmt = c.prep("UPDATE t SET v = ?").await.expect("prepare");
    assert_eq!(h.direct("SELECT COUNT(*) FROM t WHERE v = 'held-1'"), "0");
    let r = held_then_approved(
        &h,
        c.exec_drop(&stmt, ("held-1",)),
        "UPDATE t SET v = 'held-1'",
    )
    .await;
    r.expect("approved execute");
    assert_eq!(h.direct("SELECT COUNT(*) FROM t WHERE v = 'held-1'"), "3");
    let approval = h
        .audit_records("UPDATE t SET v = 'held-1'")
        .await
        .into_iter()
        .find_map(|e| e.approval)
        .expect("the approval is recorded with the values");
    let done = h
        .outcome_record(&approval.id)
        .await
        .expect("outcome record");
    let outcome = done.outcome.expect("outcome");
    assert_eq!(outcome.rows, Some(3), "{outcome:?}");

    // the approval covered that one execute: the same statement again is held again;
    // denied, it never runs
    let deny = async {
        let req = h.pending().await;
        assert!(req.action.raw.contains("'held-2'"), "{:?}", req.action.raw);
        h.deny(&req.id).await;
    };
    let (r, ()) = within(60, async {
        tokio::join!(c.exec_drop(&stmt, ("held-2",)), deny)
    })
    .await;
    assert_eq!(server_code(r), Some(1227));
    assert_eq!(h.direct("SELECT COUNT(*) FROM t WHERE v = 'held-1'"), "3");

    // PREPARE ... FROM / EXECUTE in SQL: never runs without an approval
    let run = async {
        let a = c.query_drop("PREPARE s FROM 'DELETE FROM t'").await;
        let b = c.query_drop("EXECUTE s").await;
        (a, b)
    };
    let (a, b) = within(60, async {
        tokio::select! {
            r = run => r,
            () = h.deny_every_hold() => unreachable!(),
        }
    })
    .await;
    assert!(
        a.is_err() || b.is_err(),
        "PREPARE FROM / EXECUTE ran unapproved"
    );
    assert_eq!(count(&h), "3");
    c.disconnect().await.expect("disconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymysql_reads_denials_and_holds_through_warden() {
    let h = my_support::start().await;
    setup(&h);
    let out = h
        .pymysql(&["SELECT id, v FROM t ORDER BY id", "SELECT 1; SELECT 2"])
        .await;
    assert_eq!(out, ["OK 1,a|2,b|3,c", "OK 1|2"]);

    let texts = destructive_texts(&h.db);
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let out = within(120, async {
        tokio::select! {
            out = h.pymysql(&texts) => out,
            () = h.deny_every_hold() => unreachable!(),
        }
    })
    .await;
    assert_eq!(out.len(), texts.len());
    for (sql, line) in texts.iter().zip(&out) {
        if sql.contains("DROP") || sql.contains("TRUNCATE") {
            assert_eq!(line, "ERR 1227", "{sql}");
        } else {
            assert!(line.starts_with("ERR"), "{sql}: {line}");
        }
    }
    assert_eq!(count(&h), "3");

    let use_db = format!("USE {}; DELETE FROM t", h.db);
    for sql in [
        "DELETE FROM t",
        "SELECT 1; DELETE FROM t",
        "/*!50000 DELETE FROM t */",
        use_db.as_str(),
    ] {
        let out = held_then_approved(
            &h,
            h.pymysql(&[sql, "SELECT COUNT(*) FROM t"]),
            "DELETE FROM t",
        )
        .await;
        assert_eq!(out[1], "OK 0", "{sql}: {out:?}");
        assert_eq!(count(&h), "0", "after {sql}");
        refill(&h);
        // approved once: the same text again is held again; denied, nothing runs
        let deny = async {
            let req = h.pending().await;
            h.deny(&req.id).await;
        };
        let one = [sql];
        let (out, ()) = within(60, async { tokio::join!(h.pymysql(&one), deny) }).await;
        assert_eq!(out, ["ERR 1227"], "{sql}");
        assert_eq!(count(&h), "3", "after the denied {sql}");
    }
}
