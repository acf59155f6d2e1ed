//! `warden serve` end to end with a real psql: an unbounded DELETE through a postgres
//! target is held until approved through the JSON API.

mod cli_support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::{
    approve, free_port, psql_admin, test_database, wait_pending_approval, write_config, Server,
};

/// The whole stack through `warden serve`: psql sends an unbounded DELETE through a
/// postgres target, it is held, bob approves it through the JSON API, psql gets DELETE 3.
#[test]
fn serve_holds_a_psql_delete_until_approved_through_the_api() {
    let Some(db) = test_database(
        "warden_t6",
        "CREATE TABLE accounts(id int); INSERT INTO accounts VALUES (1),(2),(3)",
    ) else {
        return;
    };

    let dir = tempfile::tempdir().expect("tempdir");
    let (alice_pw, bob_pw) = ("alice-secret-1", "bob-secret-2");
    let hash = |pw: &str| warden_gate::auth::password::hash_password(pw).expect("hash");
    let scram = warden_gate::auth::ScramVerifier::generate(alice_pw).to_text();
    let extra = format!(
        "users:\n  - {{ name: alice, roles: [developer], password_hash: \"{}\", scram_sha256: \"{scram}\" }}\n  - {{ name: bob, roles: [dba], password_hash: \"{}\" }}\ntargets:\n  - {{ name: db, protocol: postgres, listen: 127.0.0.1:0, upstream: 127.0.0.1:5432, labels: {{ env: production }}, upstream_user: postgres }}\n",
        hash(alice_pw),
        hash(bob_pw)
    );
    let port = free_port();
    let cfg = write_config(dir.path(), port, &extra);
    std::fs::write(
        dir.path().join("policies/hold.yaml"),
        "version: 1\nrules:\n  - name: unbounded-delete\n    when: { protocol: postgres, sql: { statements: [delete], without_where: true } }\n    action: hold\n    approval: { approvers: { roles: [dba] }, required: 1, timeout: 2m }\n",
    )
    .expect("policy");
    let server = Server::start(&["serve", "--config", cfg.to_str().expect("utf8")]);
    let line = server.wait_stdout("target db (postgres) listening on", Duration::from_secs(30));
    let addr = line.rsplit(' ').next().expect("addr").to_string();

    let client = Command::new("psql")
        .arg(format!(
            "postgresql://alice@{addr}/{}?sslmode=disable",
            db.0
        ))
        .args(["-qAtc", "DELETE FROM accounts"])
        .env("PGPASSWORD", alice_pw)
        .env("PGCONNECT_TIMEOUT", "10")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql");
    let client = KillOnDrop(Some(client));

    // The hold appears in the API; bob approves it.
    let api = format!("http://127.0.0.1:{port}/api/v1/approvals");
    let bob = format!("bob:{bob_pw}");
    let id = wait_pending_approval(&api, &bob);
    assert!(
        psql_admin(&db.0, "SELECT 1 FROM accounts HAVING count(*) = 3"),
        "nothing ran before approval"
    );
    approve(&api, &bob, &id, "cleanup approved");

    let out = client.wait(Duration::from_secs(30));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&id),
        "the client was told the approval id: {stderr}"
    );
    assert!(
        psql_admin(&db.0, "SELECT 1 FROM accounts HAVING count(*) = 0"),
        "the approved DELETE ran"
    );
    let (code, _) = server.terminate();
    assert_eq!(code, Some(0));
}

struct KillOnDrop(Option<Child>);

impl KillOnDrop {
    fn wait(mut self, within: Duration) -> std::process::Output {
        let mut child = self.0.take().expect("child");
        let deadline = Instant::now() + within;
        while child.try_wait().expect("wait").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("psql did not finish");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().expect("output")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
