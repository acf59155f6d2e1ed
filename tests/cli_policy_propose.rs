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

/// Every record in the audit store of the stopped gateway in `dir`, newest first.
fn stored_records(dir: &std::path::Path) -> Vec<warden_audit::Record> {
    let store = warden_audit::AuditConfig::new(dir.join("data/audit"));
    let log = warden_audit::AuditLog::open(store).expect("reopen");
    let page = log
        .query(&warden_audit::Query {
            limit: 5000,
            ..Default::default()
        })
        .expect("query");
    log.shutdown().expect("close");
    page.records
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
    let records = stored_records(dir.path());
    let kinds: Vec<warden_audit::EventKind> = records.iter().map(|r| r.event.kind).collect();
    assert!(
        kinds.contains(&warden_audit::EventKind::PolicyProposed),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&warden_audit::EventKind::PolicyProposalApplied),
        "{kinds:?}"
    );
    let drift: Vec<_> = records
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
}

const OTHER: &str = "version: 1\nrules:\n  - name: no-drop\n    when: { sql: { statements: [drop] } }\n    action: deny\n  - name: no-grant\n    when: { sql: { statements: [grant] } }\n    action: deny\n";

/// Propose `text` as alice's copy of main.yaml; the proposal id.
fn propose(dir: &std::path::Path, url: &str, text: &str) -> String {
    let copy = dir.join("main.yaml");
    std::fs::write(&copy, text).expect("write");
    let (code, out, err) = warden_as(
        "alice",
        url,
        &["policy", "propose", copy.to_str().expect("utf8")],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    out.split_whitespace().nth(1).expect("id").to_string()
}

/// The proposals kept under the data dir (file stems).
fn kept(dir: &std::path::Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(dir.join("data/policy-proposals"))
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_suffix(".json").map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn serve(cfg: &std::path::Path) -> Server {
    let server = Server::start(&["serve", "--config", cfg.to_str().expect("utf8")]);
    server.wait_stdout("console listening on", Duration::from_secs(30));
    server
}

#[test]
fn a_proposal_survives_sigterm_and_sigkill_and_is_applied_once_approved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let cfg = write_config(dir.path(), port, &users());
    let url = format!("http://127.0.0.1:{port}");
    let api = format!("{url}/api/v1/approvals");
    let cred = format!("bob:{PW}");
    let checkout = dir.path().join("checkout");
    std::fs::create_dir_all(&checkout).expect("mkdir");

    let server = serve(&cfg);
    let applied = propose(&checkout, &url, NEW);
    let denied = propose(&checkout, &url, OTHER);
    let mut both = vec![applied.clone(), denied.clone()];
    both.sort();
    assert_eq!(
        kept(dir.path()),
        both,
        "each proposal kept under the data dir"
    );

    // A clean stop, then a crash: both proposals are still waiting afterwards.
    let (code, out) = server.terminate();
    assert_eq!(code, Some(0), "{out:?}");
    let mut server = serve(&cfg);
    server.signal("-KILL");
    let _ = server.child.wait();
    let server = serve(&cfg);
    let (code, body) = curl(&["-u", &cred, &format!("{api}?state=pending")]);
    assert_eq!(code, "200", "{body}");
    for id in [&applied, &denied] {
        assert!(body.contains(id.as_str()), "{id} still pending: {body}");
    }
    assert_eq!(kept(dir.path()), both);

    // Denied after the restarts: recorded and removed; the running policy unchanged.
    let (code, body) = curl(&[
        "-u",
        &cred,
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        "{\"reason\": \"not this one\"}",
        &format!("{api}/{denied}/deny"),
    ]);
    assert_eq!(code, "200", "{body}");
    wait_for("the denied proposal removed", || {
        kept(dir.path()) == vec![applied.clone()]
    });
    // Approved after the restarts: written and applied.
    approve(&api, &cred, &applied, "reviewed");
    let live = dir.path().join("policies/main.yaml");
    wait_for("the approved file written", || {
        std::fs::read_to_string(&live).expect("read") == NEW
    });
    server.wait_stderr("policies reloaded", Duration::from_secs(10));
    wait_for("the applied proposal removed", || {
        kept(dir.path()).is_empty()
    });
    std::thread::sleep(Duration::from_millis(500));
    let (code, out) = server.terminate();
    assert_eq!(code, Some(0), "{out:?}");

    let records = stored_records(dir.path());
    let ended = |kind: warden_audit::EventKind| -> Vec<String> {
        records
            .iter()
            .filter(|r| r.event.kind == kind)
            .filter_map(|r| r.event.approval.as_ref().map(|a| a.id.clone()))
            .collect()
    };
    use warden_audit::EventKind::{PolicyProposalApplied, PolicyProposalRejected};
    assert_eq!(ended(PolicyProposalApplied), vec![applied.clone()]);
    assert_eq!(ended(PolicyProposalRejected), vec![denied.clone()]);
    let drift = records.iter().filter(|r| {
        r.event
            .alert
            .as_ref()
            .is_some_and(|a| a.detector == "config-drift")
    });
    assert_eq!(drift.count(), 0, "a reviewed change raises no drift alert");
}

#[test]
fn a_proposal_that_expired_while_warden_was_down_is_recorded_and_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let extra = format!("{}policy_review:\n  expires_after: 2s\n", users());
    let cfg = write_config(dir.path(), port, &extra);
    let url = format!("http://127.0.0.1:{port}");
    let checkout = dir.path().join("checkout");
    std::fs::create_dir_all(&checkout).expect("mkdir");
    let server = serve(&cfg);
    let id = propose(&checkout, &url, NEW);
    assert_eq!(kept(dir.path()), vec![id.clone()]);
    server.signal("-KILL");
    drop(server);
    std::thread::sleep(Duration::from_millis(2500));
    let server = serve(&cfg);
    wait_for("the expired proposal removed", || {
        kept(dir.path()).is_empty()
    });
    let (code, out) = server.terminate();
    assert_eq!(code, Some(0), "{out:?}");
    let live = std::fs::read_to_string(dir.path().join("policies/main.yaml")).expect("read");
    assert_eq!(live, POLICY, "an expired proposal is never written");
    let records = stored_records(dir.path());
    let rejected: Vec<String> = records
        .iter()
        .filter(|r| r.event.kind == warden_audit::EventKind::PolicyProposalRejected)
        .filter_map(|r| r.event.detail.clone())
        .collect();
    assert_eq!(
        rejected,
        vec!["expired without enough approvals".to_string()]
    );
}
