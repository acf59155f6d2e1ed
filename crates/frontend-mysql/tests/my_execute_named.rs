//! `EXECUTE name` of a `PREPARE name FROM '<statement>'` through Warden against the
//! machine's MariaDB, with mysql_async (text protocol), the `mariadb` CLI and PyMySQL: Warden
//! follows what each name stands for upstream and decides `EXECUTE` as that statement —
//! a read runs without approval, an unbounded DELETE (prepared without approval) is held
//! at each EXECUTE and runs once per approval, a re-PREPARE rebinds, DEALLOCATE and a
//! failed text unbind, `FROM @var` stays opaque. The table is checked after each case.

mod my_support;

use my_support::checks::{no_hold_ever, server_code};
use my_support::table::{count, refill, setup};
use my_support::{within, Harness};
use mysql_async::prelude::*;

/// Runs `sql`, which must be held; the request must name `rule` (or, with `None`, not
/// the unbounded-writes rule: opaque) and show `shown`; it is then denied.
async fn held_and_denied(
    h: &Harness,
    c: &mut mysql_async::Conn,
    sql: &str,
    rule: Option<&str>,
    shown: &str,
) {
    let deny = async {
        let req = h.pending().await;
        match rule {
            Some(rule) => assert!(
                req.rules.iter().any(|r| r == rule),
                "{sql}: {:?}",
                req.rules
            ),
            None => assert!(
                !req.rules.iter().any(|r| r == "mysql-unbounded-writes"),
                "{sql}: {:?}",
                req.rules
            ),
        }
        assert!(
            req.action.raw.contains(shown),
            "{sql}: {:?}",
            req.action.raw
        );
        h.deny_every_hold().await;
    };
    let r = within(60, async {
        tokio::select! {
            r = c.query_drop(sql) => r,
            () = deny => unreachable!(),
        }
    })
    .await;
    assert_eq!(server_code(r), Some(1227), "{sql}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_is_decided_as_the_statement_it_runs() {
    let h = my_support::start().await;
    setup(&h);
    let mut c = h.driver().await;

    // a read: prepared and executed without any approval, audited as what it runs
    let v: Option<String> = within(60, async {
        tokio::select! {
            v = async {
                c.query_drop("PREPARE r FROM 'SELECT v FROM t WHERE id = 2'").await.expect("prepare read");
                c.query_first("EXECUTE r").await.expect("execute read")
            } => v,
            () = no_hold_ever(&h) => unreachable!(),
        }
    })
    .await;
    assert_eq!(v.as_deref(), Some("b"));
    let shown = "EXECUTE r /* r = SELECT v FROM t WHERE id = 2 */";
    let rec = h.outcome_record(shown).await.expect("execute audited");
    assert_eq!(
        rec.verdict.as_ref().map(|v| v.decision.as_str()),
        Some("allow")
    );

    // an unbounded DELETE: prepared without approval (it runs nothing)...
    within(60, async {
        tokio::select! {
            r = c.query_drop("PREPARE d FROM 'DELETE FROM t'") => r.expect("prepared without approval"),
            () = no_hold_ever(&h) => unreachable!(),
        }
    })
    .await;
    assert_eq!(count(&h), "3", "nothing runs at PREPARE");
    // ...each EXECUTE is held by the unbounded-writes rule, and runs once on approval
    let approve = async {
        let req = h.pending().await;
        assert!(
            req.rules.iter().any(|r| r == "mysql-unbounded-writes"),
            "{:?}",
            req.rules
        );
        assert!(
            req.action.raw.contains("EXECUTE d /* d = DELETE FROM t */"),
            "{:?}",
            req.action.raw
        );
        h.approve(&req.id).await;
    };
    let (r, ()) = within(60, async {
        tokio::join!(c.query_drop("EXECUTE d"), approve)
    })
    .await;
    r.expect("approved EXECUTE runs");
    assert_eq!(count(&h), "0", "the approved DELETE ran");
    refill(&h);
    held_and_denied(
        &h,
        &mut c,
        "EXECUTE d",
        Some("mysql-unbounded-writes"),
        "d = DELETE FROM t",
    )
    .await;
    assert_eq!(count(&h), "3", "the approval covered one EXECUTE");

    // re-PREPARE rebinds the name: r is now the DELETE, no longer the read
    c.query_drop("PREPARE r FROM 'DELETE FROM t'")
        .await
        .expect("re-prepare");
    held_and_denied(
        &h,
        &mut c,
        "execute R",
        Some("mysql-unbounded-writes"),
        "execute R /* r = DELETE FROM t */",
    )
    .await;
    assert_eq!(count(&h), "3");

    // DEALLOCATE unbinds: EXECUTE of the name is opaque again
    c.query_drop("DEALLOCATE PREPARE d")
        .await
        .expect("deallocate");
    held_and_denied(&h, &mut c, "EXECUTE d", None, "EXECUTE d").await;
    assert_eq!(count(&h), "3");

    // a denied PREPARE binds nothing: the name stays what the server holds (the read)
    c.query_drop("PREPARE x FROM 'SELECT v FROM t WHERE id = 3'")
        .await
        .expect("prepare read");
    let r = c.query_drop("PREPARE x FROM 'DROP TABLE t'").await;
    assert_eq!(server_code(r), Some(1227));
    let v: Option<String> = c.query_first("EXECUTE x").await.expect("the read still");
    assert_eq!(v.as_deref(), Some("c"));
    let r = c.query_drop("PREPARE y FROM 'DROP TABLE t'").await;
    assert_eq!(server_code(r), Some(1227));
    held_and_denied(&h, &mut c, "EXECUTE y", None, "EXECUTE y").await;
    assert_eq!(count(&h), "3");
    c.disconnect().await.expect("disconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_warden_cannot_follow_exactly_stay_opaque() {
    let h = my_support::start().await;
    setup(&h);
    let mut c = h.driver().await;

    // a text that failed part-way: its PREPARE may not have run, so the name is not
    // taken to be the read (the server still holds the DELETE)
    c.query_drop("PREPARE q FROM 'DELETE FROM t'")
        .await
        .expect("prepared without approval");
    let r = c
        .query_drop("SELECT * FROM no_such_table; PREPARE q FROM 'SELECT 1'")
        .await;
    assert!(r.is_err(), "the first statement fails");
    held_and_denied(&h, &mut c, "EXECUTE q", None, "EXECUTE q").await;
    assert_eq!(count(&h), "3");

    // FROM @var: opaque when prepared (approved here) and when executed
    c.query_drop("SET @s = 'DELETE FROM t'").await.expect("set");
    c.query_drop("PREPARE v FROM 'SELECT 1'")
        .await
        .expect("prepare read");
    let approve = async {
        let req = h.pending().await;
        h.approve_as_admin(&req.id).await;
    };
    let (r, ()) = within(60, async {
        tokio::join!(c.query_drop("PREPARE v FROM @s"), approve)
    })
    .await;
    r.expect("approved PREPARE FROM @var");
    held_and_denied(&h, &mut c, "EXECUTE v", None, "EXECUTE v").await;
    assert_eq!(count(&h), "3", "the DELETE behind the variable never ran");

    // EXECUTE with an expression (could call a function) is not resolved either
    c.query_drop("PREPARE w FROM 'SELECT ?'")
        .await
        .expect("prepare");
    held_and_denied(&h, &mut c, "EXECUTE w USING CONCAT('a')", None, "EXECUTE w").await;
    let v: Option<String> = within(60, async {
        tokio::select! {
            v = async {
                c.query_drop("SET @a = 'x'").await.expect("set");
                c.query_first("EXECUTE w USING @a").await.expect("execute")
            } => v,
            () = no_hold_ever(&h) => unreachable!(),
        }
    })
    .await;
    assert_eq!(v.as_deref(), Some("x"));
    c.disconnect().await.expect("disconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mariadb_cli_executes_what_it_prepared() {
    let h = my_support::start().await;
    setup(&h);
    let script = "PREPARE r FROM 'SELECT v FROM t WHERE id = 1';\nEXECUTE r;\nPREPARE d FROM 'DELETE FROM t';\nEXECUTE d;\nEXECUTE r;\n";
    let (_, stdout, stderr) = within(90, async {
        tokio::select! {
            out = h.cli(&[], script) => out,
            () = h.deny_every_hold() => unreachable!(),
        }
    })
    .await;
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines, ["a", "a"], "{stdout} / {stderr}");
    let refused: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("ERROR 1227"))
        .collect();
    assert_eq!(refused.len(), 1, "{stderr}");
    assert_eq!(count(&h), "3");
    let denied = h.audit_records("EXECUTE d /* d = DELETE FROM t */").await;
    assert!(
        denied.iter().any(|e| e
            .verdict
            .as_ref()
            .is_some_and(|v| v.rules.iter().any(|r| r == "mysql-unbounded-writes"))),
        "{denied:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymysql_executes_what_it_prepared() {
    let h = my_support::start().await;
    setup(&h);
    // statements with their trailing `;`, as applications often send them
    let statements = [
        "PREPARE r FROM 'SELECT v FROM t WHERE id = 3';",
        "EXECUTE r;",
        "PREPARE d FROM 'DELETE FROM t';",
        "EXECUTE d;",
        "EXECUTE r",
    ];
    let out = within(90, async {
        tokio::select! {
            out = h.pymysql(&statements) => out,
            () = h.deny_every_hold() => unreachable!(),
        }
    })
    .await;
    assert_eq!(out, ["OK ", "OK c", "OK ", "ERR 1227", "OK c"]);
    assert_eq!(count(&h), "3");
    let held = h.audit_records("EXECUTE d; /* d = DELETE FROM t */").await;
    assert!(
        held.iter().any(|e| e
            .verdict
            .as_ref()
            .is_some_and(|v| v.rules.iter().any(|r| r == "mysql-unbounded-writes"))),
        "{held:?}"
    );
}
