//! `WARDEN_LOG_FORMAT=json`: the real binary, real sockets and curl; every stderr line
//! must be one JSON object with the documented fields, and no password, bearer token or
//! upstream secret used during the run may appear in any line.

mod cli_support;

use std::process::Command;
use std::time::Duration;

use cli_support::{curl, free_port, run, wait_line, write_config, Server, BIN};

const PASSWORD: &str = "pw-Zq81-never-logged";
const BAD_PASSWORD: &str = "wrong-Kx72-never-logged";
const TOKEN: &str = "tok-Hy55-never-logged";
const UPSTREAM_SECRET: &str = "upstream-Vb39-never-logged";

fn sha256_hex(text: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", "printf %s \"$1\" | sha256sum", "sh", text])
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("digest")
        .to_string()
}

/// Collect lines until the channel is closed (the process exited) or 20 s pass.
fn drain(rx: &std::sync::mpsc::Receiver<String>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) {
        out.push(line);
    }
    out
}

/// Every line parses as a JSON object with `timestamp` (RFC 3339, UTC), `level`,
/// `target` (the emitting module: Warden's or a library's) and `fields.message`; returns the objects.
fn parse_all(stderr: &[String]) -> Vec<serde_json::Value> {
    stderr
        .iter()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"));
            let ts = v["timestamp"]
                .as_str()
                .unwrap_or_else(|| panic!("timestamp: {line}"));
            assert!(
                ts.len() >= 20 && ts.as_bytes()[10] == b'T' && ts.ends_with('Z'),
                "RFC 3339 UTC timestamp: {line}"
            );
            let level = v["level"]
                .as_str()
                .unwrap_or_else(|| panic!("level: {line}"));
            assert!(
                ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&level),
                "{line}"
            );
            assert!(
                v["target"].as_str().is_some_and(|t| !t.is_empty()),
                "{line}"
            );
            assert!(v["fields"]["message"].is_string(), "{line}");
            v
        })
        .collect()
}

#[test]
fn serve_with_json_logs_writes_one_object_a_line_and_no_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let web = free_port();
    let api = free_port();
    let hash = warden_gate::auth::password::hash_password(PASSWORD).expect("hash");
    let extra = format!(
        "users:\n  - name: alice\n    roles: [admin]\n    password_hash: \"{hash}\"\n    tokens: [\"{}\"]\n\
         targets:\n  - {{ name: api, protocol: http, listen: 127.0.0.1:{api}, upstream: 127.0.0.1:{web}, \
         upstream_password_env: LOG_TEST_UPSTREAM }}\n",
        sha256_hex(TOKEN)
    );
    let cfg = write_config(dir.path(), web, &extra);
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--config", cfg.to_str().expect("utf8")])
        .env("WARDEN_LOG_FORMAT", "json")
        .env("WARDEN_LOG", "debug")
        .env("LOG_TEST_UPSTREAM", UPSTREAM_SECRET);
    // Killed on drop if an assertion below fails.
    let mut server = Server::spawn(cmd);
    wait_line(
        &server.stdout,
        "target api (http) listening",
        Duration::from_secs(30),
    )
    .expect("warden started");

    // Traffic that logs: good and bad credentials on the console and through the
    // gateway (with a bearer token), then a rejected policy reload.
    let console = format!("http://127.0.0.1:{web}/api/v1/targets");
    assert_eq!(
        curl(&["-u", &format!("alice:{PASSWORD}"), &console]).0,
        "200"
    );
    assert_eq!(
        curl(&["-u", &format!("alice:{BAD_PASSWORD}"), &console]).0,
        "401"
    );
    let through = format!("http://127.0.0.1:{api}/healthz");
    assert_eq!(
        curl(&["-H", &format!("authorization: Bearer {TOKEN}"), &through]).0,
        "200"
    );
    let (code, _) = curl(&["-u", &format!("alice:{BAD_PASSWORD}"), &through]);
    assert_ne!(code, "200", "a wrong password is refused");
    std::fs::write(
        dir.path().join("policies/main.yaml"),
        "version: 1\nrules: [ { whn: {} } ]\n",
    )
    .expect("write");
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill")
        .success());
    let rejected = wait_line(
        &server.stderr,
        "policy reload rejected",
        Duration::from_secs(10),
    );
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    let status = server.child.wait().expect("wait");

    let mut err_lines = rejected
        .clone()
        .map(|l| vec![l])
        .unwrap_or_else(|seen| seen);
    err_lines.extend(drain(&server.stderr));
    let out_lines = drain(&server.stdout);
    assert!(
        rejected.is_ok(),
        "no reload rejection logged: {err_lines:?}"
    );
    assert_eq!(status.code(), Some(0), "{err_lines:?}");

    let events = parse_all(&err_lines);
    let messages: Vec<&str> = events
        .iter()
        .filter_map(|v| v["fields"]["message"].as_str())
        .collect();
    // A multi-line message (the diagnostics) is still one line of JSON.
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("policy reload rejected") && m.contains("\n")),
        "{messages:?}"
    );
    assert!(
        events.iter().any(|v| v["level"] == "DEBUG"),
        "WARDEN_LOG=debug reached the subscriber"
    );
    // The listener lines stay plain text on stdout, as with text logs.
    assert!(
        out_lines.iter().any(|l| l == "warden: stopped"),
        "{out_lines:?}"
    );

    for line in err_lines.iter().chain(&out_lines) {
        for secret in [PASSWORD, BAD_PASSWORD, TOKEN, UPSTREAM_SECRET] {
            assert!(!line.contains(secret), "{secret} logged: {line}");
        }
    }
}

#[test]
fn a_runtime_failure_is_a_json_error_event_and_exits_1() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = busy.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = format!(
        "targets:\n  - {{ name: api, protocol: http, listen: 127.0.0.1:{port}, upstream: 127.0.0.1:9 }}\n"
    );
    let cfg = write_config(dir.path(), free_port(), &target);
    let out = Command::new(BIN)
        .args(["serve", "--config", cfg.to_str().expect("utf8")])
        .env("WARDEN_LOG_FORMAT", "json")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let lines: Vec<String> = err.lines().map(str::to_string).collect();
    let events = parse_all(&lines);
    let last = events.last().expect("an event");
    assert_eq!(last["level"], "ERROR", "{err}");
    assert!(
        last["fields"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("target api: cannot listen")),
        "{err}"
    );
}

#[test]
fn an_unknown_log_format_exits_2_and_names_the_choices() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), free_port(), "");
    let out = Command::new(BIN)
        .args(["serve", "--config", cfg.to_str().expect("utf8")])
        .env("WARDEN_LOG_FORMAT", "logfmt")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("WARDEN_LOG_FORMAT is `logfmt`; use `text` (the default) or `json`"),
        "{err}"
    );
}

#[test]
fn text_stays_the_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let target = format!(
        "targets:\n  - {{ name: api, protocol: http, listen: 127.0.0.1:{port}, upstream: 127.0.0.1:9 }}\n"
    );
    let _busy = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
    let cfg = write_config(dir.path(), free_port(), &target);
    let (code, _, err) = run(&["serve", "--config", cfg.to_str().expect("utf8")]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("error: target api: cannot listen"), "{err}");
    assert!(!err.trim_start().starts_with('{'), "{err}");
}
