//! End-to-end tests of `warden policy check|test|explain`: the real binary, real files,
//! real exit codes.

use std::path::Path;
use std::process::{Command, Output};

fn warden(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .output()
        .expect("run warden")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).expect("write policy");
    p.display().to_string()
}

const THREE_MISTAKES: &str = "\
version: 1
rules:
  - name: no-drop
    when:
      protocl: postgres
      sql: { statements: [drop] }
    action: deny
  - name: holds
    when:
      sql: { statements: [updte] }
    action: hold
    approval: { timeout: soon }
";

#[test]
fn check_reports_every_mistake_with_position_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "bad.yaml", THREE_MISTAKES);
    let out = warden(&["policy", "check", &f]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "{f}:5:7: rules[0](no-drop).when.protocl: unknown key"
        )),
        "{err}"
    );
    assert!(err.contains("(did you mean `protocol`?)"), "{err}");
    assert!(
        err.contains(&format!(
            "{f}:10:27: rules[1](holds).when.sql.statements: unknown value `updte`"
        )),
        "{err}"
    );
    assert!(err.contains("(did you mean `update`?)"), "{err}");
    assert!(
        err.contains(&format!(
            "{f}:12:26: rules[1](holds).approval.timeout: expected a duration"
        )),
        "{err}"
    );
    assert!(err.contains("3 errors in policy"), "{err}");
}

#[test]
fn check_accepts_the_shipped_packs() {
    let out = warden(&[
        "policy",
        "check",
        concat!(env!("CARGO_MANIFEST_DIR"), "/policies"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("ok: "));
}

#[test]
fn check_of_a_missing_path_exits_2() {
    let out = warden(&["policy", "check", "/nonexistent/warden/policy.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read"));
}

#[test]
fn test_runs_the_shipped_packs() {
    let out = warden(&[
        "policy",
        "test",
        concat!(env!("CARGO_MANIFEST_DIR"), "/policies"),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.ends_with(" passed, 0 failed"), "{last}");
    assert!(!stdout.contains("FAIL"));
}

#[test]
fn test_exits_1_on_a_failing_test_and_2_on_an_invalid_policy() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "p.yaml",
        r#"
rules:
  - { name: deny-drop, when: { sql: { statements: [drop] } }, action: deny }
tests:
  - name: right
    action: { protocol: postgres, sql: "DROP TABLE t" }
    expect: deny
  - name: wrong
    action: { protocol: postgres, sql: "SELECT 1" }
    expect: deny
"#,
    );
    let out = warden(&["policy", "test", &f]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&format!("PASS {f}:5: right")), "{stdout}");
    assert!(
        stdout.contains(&format!("FAIL {f}:8: wrong: expected deny, got allow")),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l == "1 passed, 1 failed"),
        "{stdout}"
    );

    let bad = write(dir.path(), "bad.yaml", THREE_MISTAKES);
    let out = warden(&["policy", "test", &bad]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn explain_shows_facts_rules_and_verdict() {
    let packs = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    let out = warden(&[
        "policy",
        "explain",
        "--policies",
        packs,
        "--protocol",
        "postgres",
        "--target",
        "prod-db",
        "--target-label",
        "env=production",
        "--user",
        "alice",
        "--role",
        "developer",
        "--sql",
        "DELETE FROM users",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("\"kind\": \"delete\""), "{stdout}");
    assert!(stdout.contains("hold  pg-unbounded-writes ("), "{stdout}");
    assert!(
        stdout.contains("verdict: hold by pg-unbounded-writes"),
        "{stdout}"
    );
    assert!(stdout.contains("approval: 1 of [role dba]"), "{stdout}");

    let out = warden(&[
        "policy",
        "explain",
        "--policies",
        packs,
        "--protocol",
        "ssh",
        "--user",
        "alice",
        "--command",
        "rm -rf /",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["verdict"]["decision"], "deny");
    assert_eq!(v["verdict"]["rule"], "ssh-no-rm-root");
    assert_eq!(v["action"]["facts"]["commands"][0]["program"], "rm");
}

#[test]
fn explain_rejects_a_payload_that_does_not_fit_the_protocol() {
    let packs = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    let out = warden(&[
        "policy",
        "explain",
        "--policies",
        packs,
        "--protocol",
        "ssh",
        "--sql",
        "SELECT 1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--sql needs --protocol postgres or mysql"));
}
