//! Retry mode (`approval: { wait: false }`) through mysql_async's binary protocol: a held
//! COM_STMT_EXECUTE is refused at once with ERR 1227 naming the approval; once approved,
//! only the identical execute — same statement, same bound values, same user — runs,
//! once. Other values file their own request. The database is checked after each step.

mod my_support;

use my_support::{start_with_policy, Harness};
use mysql_async::prelude::*;
use warden_approval::ApprovalState;
use warden_frontend_mysql::MysqlOptions;

const RETRY_INSERTS: &str = r#"version: 1
rules:
  - name: t-inserts-need-approval
    when:
      protocol: mysql
      sql: { statements: [insert], objects: ["*.t"] }
    action: hold
    message: inserts into t need a DBA's approval
    approval: { approvers: { roles: [dba] }, wait: false }
"#;

fn rows(h: &Harness) -> String {
    h.direct("SELECT COALESCE(GROUP_CONCAT(v ORDER BY id), '-') FROM t")
}

fn refusal(r: Result<(), mysql_async::Error>) -> (u16, String) {
    match r {
        Err(mysql_async::Error::Server(e)) => (e.code, e.message),
        other => panic!("expected an ERR, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_mode_runs_only_the_approved_values_once() {
    let h = start_with_policy(MysqlOptions::default(), Some(RETRY_INSERTS)).await;
    h.direct("CREATE TABLE t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(20))");
    let mut c = h.driver().await;
    let insert = c
        .prep("INSERT INTO t (v) VALUES (?)")
        .await
        .expect("prepare");

    let (code, message) = refusal(c.exec_drop(&insert, ("r1",)).await);
    assert_eq!(code, 1227, "{message}");
    let pending = h.gate.approvals().list(Some(ApprovalState::Pending));
    assert_eq!(pending.len(), 1);
    let req = &pending[0];
    assert!(
        message.contains(&req.id),
        "the ERR names the approval: {message}"
    );
    assert_eq!(req.action.raw, "INSERT INTO t (v) VALUES ('r1')");
    h.approve(&req.id).await;
    assert_eq!(rows(&h), "-", "nothing ran before the retry");

    // other values: not what was approved; a request of their own, nothing runs
    let (code, _) = refusal(c.exec_drop(&insert, ("r2",)).await);
    assert_eq!(code, 1227);
    assert_eq!(rows(&h), "-");

    // the approved values: run once
    c.exec_drop(&insert, ("r1",))
        .await
        .expect("the approved execute runs");
    assert_eq!(rows(&h), "r1");
    let (code, _) = refusal(c.exec_drop(&insert, ("r1",)).await);
    assert_eq!(code, 1227, "the approval covered one execution");
    assert_eq!(rows(&h), "r1");
    c.disconnect().await.expect("disconnect");
}
