//! Ordinary client start-up and meta queries pass the shipped production policy (whose
//! defaults hold opaque statements): psql's `\d` family and pgbench's start-up call
//! read-only catalog functions that SQL inspection knows to be pure.

mod pg_support;

use std::time::Duration;

use pg_support::*;
use warden_approval::ApprovalState;

fn production() -> Setup {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../policies/postgres-production.yaml"
    );
    Setup {
        policy: std::fs::read_to_string(path).expect("shipped policy"),
        ..Setup::default()
    }
}

fn no_pending(h: &Harness) {
    let pending = h.gate.approvals().list(Some(ApprovalState::Pending));
    assert!(
        pending.is_empty(),
        "held: {:?}",
        pending.iter().map(|r| &r.action.raw).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_meta_commands_are_not_held() {
    let h = start_with(production()).await;
    h.direct()
        .await
        .batch_execute(
            "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL DEFAULT 'x' CHECK (name <> ''));
             CREATE INDEX items_name ON items (lower(name));
             CREATE VIEW items_v AS SELECT id FROM items;
             COMMENT ON TABLE items IS 'things';
             CREATE FUNCTION add1(int) RETURNS int LANGUAGE sql AS 'SELECT $1 + 1';",
        )
        .await
        .expect("setup");
    for cmd in [
        "\\d",
        "\\dt",
        "\\d items",
        "\\d+ items",
        "\\dt+",
        "\\l",
        "\\l+",
        "\\du",
        "\\dn",
        "\\dn+",
        "\\df",
        "\\dv",
        "\\di",
        "\\ds",
        "\\dx",
        "\\dT",
    ] {
        let args = ["-c", cmd];
        let run = h.psql("alice", ALICE_PW, &args, "");
        let (ok, out, err) = tokio::time::timeout(Duration::from_secs(20), run)
            .await
            .unwrap_or_else(|_| panic!("{cmd} did not complete (held?)"));
        assert!(ok && !err.contains("held"), "{cmd}: {err}");
        if ["\\d", "\\dt", "\\d items", "\\d+ items"].contains(&cmd) {
            assert!(out.contains("items"), "{cmd}: {out}");
        }
        no_pending(&h);
    }
    let (ok, out, err) = within(
        20,
        h.psql("alice", ALICE_PW, &[], "\\x\nSELECT * FROM items_v;\n"),
    )
    .await;
    assert!(ok && out.contains("Expanded display is on"), "{out} {err}");
    no_pending(&h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbench_select_only_starts_and_runs() {
    let h = start_with(production()).await;
    let init = tokio::process::Command::new("pgbench")
        .args([
            "-i",
            "-q",
            "-s",
            "1",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            &h.db,
        ])
        .kill_on_drop(true)
        .output();
    let init = within(60, init).await.expect("pgbench -i");
    assert!(init.status.success(), "{init:?}");
    let port = h.addr.port().to_string();
    let run = tokio::process::Command::new("pgbench")
        .args([
            "-S",
            "-n",
            "-t",
            "20",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "alice",
            &h.db,
        ])
        .env("PGPASSWORD", ALICE_PW)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("pgbench did not complete (held?)")
        .expect("pgbench");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("number of transactions actually processed: 20"));
    no_pending(&h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_select_generate_series_over_the_extended_protocol() {
    let h = start_with(production()).await;
    h.direct()
        .await
        .batch_execute("CREATE TABLE g (n int)")
        .await
        .expect("setup");
    let c = h.alice().await;
    let n = within(
        10,
        c.execute("INSERT INTO g SELECT generate_series(1, $1::int)", &[&5i32]),
    )
    .await
    .expect("not held");
    assert_eq!(n, 5);
    no_pending(&h);
}
