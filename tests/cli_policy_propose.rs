//! `warden policy propose` end to end with the real binary: a running `warden serve`
//! with `policy_changes: require_review`; alice proposes a new version of the policy
//! file from a copy in her checkout, bob approves it with `warden approvals approve`,
//! and the gateway writes the file and applies it with no `config-drift` alert. Bad
//! input (an unreadable file, an invalid set, an unreachable server) gets a clear
//! error and its exit code.

mod cli_support;

use std::process::Command;
use std::time::{Duration, Instant};

use cli_support::*;

const PW: &str = "propose-test-password";
const NEW: &str = "version: 1\nrules:\n  - name: no-drop\n    when: { sql: { statements: [drop] } }\n    action: deny\n  - name: no-truncate\n    when: { sql: { statements: [truncate] } }\n    action: deny\n";

fn users() -> String {
    let hash = warden_gate::auth::password::hash_password(PW).expect("hash");
    format!(
        "policy_changes: require_review\nusers:\n  - name: alice\n    roles: [developer]\n    password_hash: \"{hash}\"\n  - name: bob\n    roles: [admin]\n    password_hash: \"{hash}\"\n"
    )
}

/// The binary as `user`, with the password in the environment.
fn warden_as(user: &str, url: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .args(["--url", url, "--user", user])
        .env("WARDEN_PASSWORD", PW)
        .output()
        .expect("run warden");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn propose_then_approve_writes_and_applies_the_policy_without_a_drift_alert() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let cfg = write_config(dir.path(), port, &users());
    let server = Server::start(&["serve", "--config", cfg.to_str().expect("utf8")]);
    server.wait_stdout("console listening on", Duration::from_secs(30));
    let url = format!("http://127.0.0.1:{port}");

    let checkout = dir.path().join("checkout");
    std::fs::create_dir_all(&checkout).expect("mkdir");
    let copy = checkout.join("main.yaml");
    std::fs::write(&copy, NEW).expect("write");
    let copy_arg = copy.to_str().expect("utf8");
    let (code, out, err) = warden_as(
        "alice",
        &url,
        &["policy", "propose", copy_arg, "--reason", "block truncate"],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("waits for 1 approval(s) by role admin"),
        "{out}"
    );
    assert!(out.contains("+  - name: no-truncate"), "{out}");
    let id = out
        .split_whitespace()
        .nth(1)
        .expect("proposal id")
        .to_string();

    let (code, out, err) = warden_as("bob", &url, &["approvals", "approve", &id]);
    assert_eq!(code, Some(0), "{out}{err}");
    let live = dir.path().join("policies/main.yaml");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&live).expect("read") != NEW {
        assert!(
            Instant::now() < deadline,
            "the approved file was not written"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server.wait_stderr("policies reloaded", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(1000));

    // Bad input: an invalid set (exit 2, diagnostics), a missing file (exit 2).
    std::fs::write(
        &copy,
        "version: 1\nrules:\n  - name: x\n    whn: {}\n    action: deny\n",
    )
    .expect("write");
    let (code, _, err) = warden_as("alice", &url, &["policy", "propose", copy_arg]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("the proposed set is invalid") && err.contains("whn"),
        "{err}"
    );
    let (code, _, err) = warden_as("alice", &url, &["policy", "propose", "/no/such/file.yaml"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("/no/such/file.yaml"), "{err}");
    let dead = format!("http://127.0.0.1:{}", free_port());
    std::fs::write(&copy, NEW).expect("write");
    let (code, _, err) = warden_as("alice", &dead, &["policy", "propose", copy_arg]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot reach"), "{err}");

    let (code, out) = server.terminate();
    assert_eq!(code, Some(0), "{out:?}");
    let audit = dir.path().join("data/audit");
    let log = warden_audit::AuditLog::open(warden_audit::AuditConfig::new(&audit)).expect("reopen");
    let page = log
        .query(&warden_audit::Query {
            limit: 1000,
            ..Default::default()
        })
        .expect("query");
    let kinds: Vec<warden_audit::EventKind> = page.records.iter().map(|r| r.event.kind).collect();
    assert!(
        kinds.contains(&warden_audit::EventKind::PolicyProposed),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&warden_audit::EventKind::PolicyProposalApplied),
        "{kinds:?}"
    );
    let drift: Vec<_> = page
        .records
        .iter()
        .filter(|r| {
            r.event
                .alert
                .as_ref()
                .is_some_and(|a| a.detector == "config-drift")
        })
        .collect();
    assert!(
        drift.is_empty(),
        "a reviewed change raises no drift alert: {drift:?}"
    );
    log.shutdown().expect("close");
}
