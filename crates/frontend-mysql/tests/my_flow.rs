//! The MySQL front-end against the machine's real MariaDB, through the real `mariadb`
//! CLI and a raw protocol client, under the shipped `mysql-production` pack. Every case
//! checks the database directly afterwards.

mod my_support;

use my_support::raw::Reply;
use my_support::table::{count, setup};
use my_support::{start, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_work_through_the_cli_and_the_upstream_account_stays_hidden() {
    let h = start().await;
    setup(&h);
    let (ok, out, err) = h
        .cli(
            &[],
            "SELECT id, v FROM t ORDER BY id;\nSELECT CURRENT_USER();\n",
        )
        .await;
    assert!(ok, "{out} {err}");
    assert!(out.contains("1\ta\n2\tb\n3\tc"), "{out}");
    // the session runs as the target's account, which the client never had to know
    assert!(out.contains(&h.upstream_user), "{out}");
    let (ok, _, err) = h.cli_as("alice", "wrong", &[], "SELECT 1;\n").await;
    assert!(!ok && err.contains("1045"), "{err}");
    // Both logins are audited with their method (the CLI follows the greeting's
    // caching_sha2_password: full authentication over RSA, then the fast path); the
    // failure with the account's roles.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let page = h
        .gate
        .audit()
        .query(&warden_audit::Query::default())
        .expect("audit query");
    let login = |kind: warden_audit::EventKind, detail: &str| {
        page.records.iter().any(|r| {
            r.event.kind == kind
                && r.event.detail.as_deref() == Some(detail)
                && r.event
                    .actor
                    .as_ref()
                    .is_some_and(|a| a.name == "alice" && a.roles == ["developer"])
        })
    };
    assert!(login(
        warden_audit::EventKind::Authenticated,
        "method=caching_sha2_password"
    ));
    assert!(login(
        warden_audit::EventKind::AuthFailed,
        "method=caching_sha2_password; wrong password"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_is_denied_with_1227_and_the_session_stays_usable() {
    let h = start().await;
    setup(&h);
    let (_, out, err) = h.cli(&[], "DROP TABLE t;\nSELECT 42;\n").await;
    assert!(err.contains("ERROR 1227 (42000)"), "{err}");
    assert!(err.contains("mysql-no-drop-or-truncate"), "{err}");
    assert!(out.contains("42"), "the session goes on: {out}");
    assert_eq!(count(&h), "3");
    // an executable comment is what the server runs: decided as a DROP
    let (_, _, err) = h.cli(&["--comments"], "/*!50000 DROP TABLE t */;\n").await;
    assert!(err.contains("ERROR 1227"), "{err}");
    assert_eq!(count(&h), "3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_drops_in_multi_statements_and_comments_are_denied() {
    let h = start().await;
    setup(&h);
    let mut c = h.raw().await;
    for sql in [
        "SELECT 1; DROP TABLE t",
        "SELECT 1 /*! ; DROP TABLE t */",
        "/*!50000 DROP TABLE t */",
        "/*M!100000 TRUNCATE TABLE t */",
    ] {
        let r = c.query(sql).await.expect("reply");
        assert_eq!(r.err_code(), Some(1227), "{sql}: {r:?}");
    }
    assert_eq!(
        c.query("SELECT 7").await.expect("reply"),
        Reply::Rows(vec![b"\x017".to_vec()])
    );
    assert_eq!(count(&h), "3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_delete_is_held_approved_runs_once_then_held_and_denied() {
    let h = start().await;
    setup(&h);
    let run = h.cli(&[], "DELETE FROM t;\nSELECT 'done';\n");
    let approve = async {
        let req = h.pending().await;
        assert!(
            req.action.raw.contains("DELETE FROM t"),
            "{:?}",
            req.action.raw
        );
        h.approve(&req.id).await;
    };
    let ((ok, out, err), ()) = within(60, async { tokio::join!(run, approve) }).await;
    assert!(ok, "{out} {err}");
    assert!(out.contains("done"), "{out}");
    assert_eq!(count(&h), "0");

    h.direct("INSERT INTO t VALUES (9,'z')");
    let run = h.cli(&[], "DELETE FROM t;\n");
    let deny = async {
        let req = h.pending().await;
        h.deny(&req.id).await;
    };
    let ((_, _, err), ()) = within(60, async { tokio::join!(run, deny) }).await;
    assert!(err.contains("ERROR 1227"), "{err}");
    assert_eq!(
        count(&h),
        "1",
        "the approval was used once; the second DELETE never ran"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_are_decided_at_prepare_and_bound_to_it() {
    let h = start().await;
    setup(&h);
    let mut c = h.raw().await;
    let denied = c.prepare("DROP TABLE t").await.expect("reply");
    assert_eq!(denied.err().and_then(|r| r.err_code()), Some(1227));
    let id = c
        .prepare("SELECT v FROM t ORDER BY id")
        .await
        .expect("reply")
        .expect("prepared");
    match c.execute(id).await.expect("reply") {
        Reply::Rows(rows) => assert_eq!(rows.len(), 3),
        other => panic!("{other:?}"),
    }
    // an id Warden never allowed is refused, whatever the upstream has
    assert_eq!(
        c.execute(id + 1000).await.expect("reply").err_code(),
        Some(1243)
    );

    // a statement the pack holds is prepared without an approval (preparing runs
    // nothing); each execute is held, and an approval covers that one execute
    let id = within(30, c.prepare("DELETE FROM t"))
        .await
        .expect("reply")
        .expect("prepared without waiting");
    assert_eq!(count(&h), "3", "nothing runs at prepare");
    let execute = async { c.execute(id).await.expect("reply") };
    let approve = async {
        let req = h.pending().await;
        assert_eq!(req.action.raw, "DELETE FROM t");
        h.approve(&req.id).await;
    };
    let (reply, ()) = within(60, async { tokio::join!(execute, approve) }).await;
    assert_eq!(reply, Reply::Ok { affected: 3 });
    assert_eq!(count(&h), "0");
    h.direct("INSERT INTO t VALUES (9,'z')");
    let execute = async { c.execute(id).await.expect("reply") };
    let deny = async {
        let req = h.pending().await;
        h.deny(&req.id).await;
    };
    let (reply, ()) = within(60, async { tokio::join!(execute, deny) }).await;
    assert_eq!(reply.err_code(), Some(1227));
    assert_eq!(count(&h), "1", "the approval covered one execute");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_user_other_commands_and_load_data_local_are_refused() {
    let h = start().await;
    setup(&h);
    let mut c = h.raw().await;
    let r = c.command(b"\x11bob\x00\x00").await.expect("reply");
    assert_eq!(r.err_code(), Some(1227), "{r:?}");
    for command in [
        &b"\x12\x00\x00\x00\x00"[..],
        b"\x1e",
        b"\x15",
        b"\x08",
        b"\x0c\x01\x00\x00\x00",
        b"\x63",
    ] {
        let r = c.command(command).await.expect("reply");
        assert!(matches!(r, Reply::Err { .. }), "{command:?}: {r:?}");
    }
    assert_eq!(
        c.query("SELECT 5").await.expect("reply"),
        Reply::Rows(vec![b"\x015".to_vec()])
    );

    let file = h.dir.path().join("rows.csv");
    std::fs::write(&file, "7,x\n8,y\n").expect("write");
    let sql = format!(
        "LOAD DATA LOCAL INFILE '{}' INTO TABLE t FIELDS TERMINATED BY ',';\n",
        file.display()
    );
    let (_, _, err) = h.cli(&["--local-infile=1"], &sql).await;
    assert!(err.contains("ERROR"), "{err}");
    assert_eq!(count(&h), "3");
    // the same through the raw client, in one packet with a hidden LOCAL
    let r = c
        .query(&format!(
            "LOAD DATA /*!LOCAL*/ INFILE '{}' INTO TABLE t",
            file.display()
        ))
        .await
        .expect("reply");
    assert_eq!(r.err_code(), Some(1227), "{r:?}");
    assert_eq!(count(&h), "3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_db_is_decided_as_use_and_forwarded() {
    let h = start().await;
    let mut c = h.raw().await;
    let mut p = vec![0x02];
    p.extend_from_slice(h.db.as_bytes());
    assert_eq!(
        within(30, c.command(&p)).await.expect("reply"),
        Reply::Ok { affected: 0 }
    );
    let mut p = vec![0x02];
    p.extend_from_slice(b"no_such_database_here");
    let r = within(30, c.command(&p)).await.expect("reply");
    assert!(matches!(r, Reply::Err { .. }), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_execute_is_decided_and_its_rows_fetched() {
    use my_support::raw::Reply;
    let h = my_support::start().await;
    setup(&h);
    let mut c = h.raw().await;
    let id = c
        .prepare("SELECT id FROM t WHERE v <> 'cursor-marker' ORDER BY id")
        .await
        .expect("io")
        .expect("prepared");
    let opened = c.execute_cursor(id).await.expect("io").expect("execute");
    assert!(opened, "the server opened a cursor");
    let rows = |r: Reply| match r {
        Reply::Rows(rows) => rows.len(),
        other => panic!("{other:?}"),
    };
    assert_eq!(rows(c.fetch(id, 2).await.expect("io")), 2);
    assert_eq!(rows(c.fetch(id, 10).await.expect("io")), 1);
    // the execute that opened it was decided and audited like any other
    assert!(!h.audit_records("v <> 'cursor-marker'").await.is_empty());
    // a fetch for a statement Warden never allowed: ERR 1243
    assert_eq!(c.fetch(999, 1).await.expect("io").err_code(), Some(1243));
    // the session goes on
    assert!(matches!(
        c.query("SELECT 1").await.expect("io"),
        Reply::Rows(_)
    ));
}
