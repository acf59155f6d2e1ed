//! End-to-end tests of `warden check`, `warden serve`, `warden demo` and
//! `warden hash-password`: the real binary, real sockets, real signals, curl as client.

mod cli_support;

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cli_support::{curl, free_port, run, wait_line, write_config, Server, BIN, POLICY};

#[test]
fn check_accepts_a_valid_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), free_port(), "");
    let (code, out, err) = run(&["check", "--config", cfg.to_str().expect("utf8")]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("ok (0 targets, 0 users, 1 policy rules)"),
        "{out}"
    );
}

#[test]
fn check_reports_every_config_error_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(
        dir.path(),
        free_port(),
        "targets:\n  - name: db\n    protocol: postgress\n    listen: 127.0.0.1:99999\n    upstream: 127.0.0.1:5432\n    lables: {}\n",
    );
    let (code, _, err) = run(&["check", "--config", cfg.to_str().expect("utf8")]);
    assert_eq!(code, Some(2), "{err}");
    let file = cfg.display().to_string();
    for needle in [
        format!("{file}:9:5: targets[0].protocol: unknown protocol `postgress`"),
        format!("{file}:10:5: targets[0].listen: `127.0.0.1:99999` is not an address"),
        format!("{file}:12:5: targets[0].lables: unknown key `lables` (did you mean `labels`?)"),
    ] {
        assert!(err.contains(&needle), "missing {needle:?} in\n{err}");
    }
}

#[test]
fn check_reports_policy_errors_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), free_port(), "");
    std::fs::write(
        dir.path().join("policies/bad.yaml"),
        "version: 1\nrules:\n  - name: x\n    whn: {}\n    action: deny\n",
    )
    .expect("write");
    let (code, _, err) = run(&["check", "--config", cfg.to_str().expect("utf8")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("bad.yaml:4:5"), "{err}");
}

#[test]
fn check_missing_file_exits_2() {
    let (code, _, err) = run(&["check", "--config", "/nonexistent/warden.yaml"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot read config file"), "{err}");
}

#[test]
fn serve_runs_console_reloads_on_sighup_and_stops_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let cfg = write_config(dir.path(), port, "");
    let server = Server::start(&["serve", "--config", cfg.to_str().expect("utf8")]);
    server.wait_stdout("console listening on", Duration::from_secs(30));
    let (code, body) = curl(&[&format!("http://127.0.0.1:{port}/healthz")]);
    assert_eq!(code, "200", "{body}");

    // A broken edit is rejected on SIGHUP and the old policies stay.
    std::fs::write(
        dir.path().join("policies/main.yaml"),
        "version: 1\nrules: [ { name: x, whn: {} } ]\n",
    )
    .expect("write");
    server.signal("-HUP");
    server.wait_stderr("policy reload rejected", Duration::from_secs(10));
    // A good edit is taken.
    std::fs::write(
        dir.path().join("policies/main.yaml"),
        POLICY.replace("no-drop", "no-drop-2"),
    )
    .expect("write");
    server.signal("-HUP");
    server.wait_stderr("policies reloaded", Duration::from_secs(10));

    let (code, out) = server.terminate();
    assert_eq!(code, Some(0), "{out:?}");
    assert!(out.iter().any(|l| l.contains("warden: stopped")), "{out:?}");
    // The audit log was sealed and verifies, and holds both reload events.
    let audit = dir.path().join("data/audit");
    let report = warden_audit::verify_dir(&audit, None).expect("verify");
    assert!(report.ok, "{report:?}");
    assert!(
        report.checkpoints >= 1,
        "a final checkpoint was signed: {report:?}"
    );
    let log = warden_audit::AuditLog::open(warden_audit::AuditConfig::new(&audit)).expect("reopen");
    let page = log
        .query(&warden_audit::Query {
            limit: 100,
            ..Default::default()
        })
        .expect("query");
    let kinds: Vec<warden_audit::EventKind> = page.records.iter().map(|r| r.event.kind).collect();
    assert!(
        kinds.contains(&warden_audit::EventKind::PolicyReloadFailed),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&warden_audit::EventKind::PolicyReloaded),
        "{kinds:?}"
    );
    log.shutdown().expect("close");
}

#[test]
fn serve_reloads_users_on_sighup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let hash = warden_gate::auth::password::hash_password("newbie-pw").expect("hash");
    let user = |name: &str| {
        format!("  - name: {name}\n    roles: [viewer]\n    password_hash: \"{hash}\"\n")
    };
    let cfg = write_config(dir.path(), port, &format!("users:\n{}", user("old")));
    let server = Server::start(&["serve", "--config", cfg.to_str().expect("utf8")]);
    server.wait_stdout("console listening on", Duration::from_secs(30));
    let targets = format!("http://127.0.0.1:{port}/api/v1/targets");
    let (code, _) = curl(&["-u", "newbie:newbie-pw", &targets]);
    assert_eq!(code, "401", "newbie before the reload");

    let text = std::fs::read_to_string(&cfg)
        .expect("read")
        .replace(&user("old"), &user("newbie"));
    let aside = dir.path().join("warden.yaml.new");
    std::fs::write(&aside, text).expect("write");
    std::fs::rename(&aside, &cfg).expect("rename");
    server.signal("-HUP");
    server.wait_stderr("configuration reloaded", Duration::from_secs(10));
    let (code, body) = curl(&["-u", "newbie:newbie-pw", &targets]);
    assert_eq!(code, "200", "newbie after the reload: {body}");
    let (code, _) = curl(&["-u", "old:newbie-pw", &targets]);
    assert_eq!(code, "401", "old after his removal");

    let (code, out) = server.terminate();
    assert_eq!(code, Some(0), "{out:?}");
    let log = warden_audit::AuditLog::open(warden_audit::AuditConfig::new(
        dir.path().join("data/audit"),
    ))
    .expect("reopen");
    let page = log
        .query(&warden_audit::Query {
            limit: 100,
            ..Default::default()
        })
        .expect("query");
    let details: Vec<String> = page
        .records
        .iter()
        .filter(|r| r.event.kind == warden_audit::EventKind::ConfigReloaded)
        .filter_map(|r| r.event.detail.clone())
        .collect();
    assert!(
        details
            .iter()
            .any(|d| d == "users added: newbie; users removed: old"),
        "{details:?}"
    );
    log.shutdown().expect("close");
}

#[test]
fn serve_refuses_a_busy_port() {
    let dir = tempfile::tempdir().expect("tempdir");
    let busy = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = busy.local_addr().expect("addr").port();
    let cfg = write_config(dir.path(), port, "");
    let (code, _, err) = run(&["serve", "--config", cfg.to_str().expect("utf8")]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot listen"), "{err}");

    // A busy target port fails the whole start, after the audit log was opened: it is
    // closed again cleanly (verifiable, not left locked).
    let dir = tempfile::tempdir().expect("tempdir");
    let target = format!(
        "targets:\n  - {{ name: api, protocol: http, listen: 127.0.0.1:{port}, upstream: 127.0.0.1:9 }}\n"
    );
    let cfg = write_config(dir.path(), free_port(), &target);
    let (code, _, err) = run(&["serve", "--config", cfg.to_str().expect("utf8")]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("target api: cannot listen"), "{err}");
    let report = warden_audit::verify_dir(&dir.path().join("data/audit"), None).expect("verify");
    assert!(report.ok, "{report:?}");
    drop(busy);
}

#[test]
fn demo_starts_without_external_services_and_serves_the_console() {
    let server = Server::start(&["demo", "--port", "0"]);
    let line = server.wait_stdout("console:  http://", Duration::from_secs(60));
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("console url")
        .to_string();
    let (code, body) = curl(&[&format!("{url}/healthz")]);
    assert_eq!(code, "200", "{body}");
    let (code, body) = curl(&[&format!("{url}/login")]);
    assert_eq!(code, "200", "{body}");
    assert!(body.contains("<form"), "{body}");
    // The tour's curl commands: the http target in front of the embedded sample API.
    let allowed =
        wait_line(&server.stdout, "allowed:  curl", Duration::from_secs(5)).expect("tour");
    let denied = wait_line(&server.stdout, "denied:   curl", Duration::from_secs(5)).expect("tour");
    let args = |line: &str| -> Vec<String> {
        line.split_whitespace().skip(2).map(str::to_owned).collect()
    };
    let allowed = args(&allowed);
    let (code, body) = curl(&allowed.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, "200", "{body}");
    assert!(body.contains("alice"), "{body}");
    let denied = args(&denied);
    let (code, body) = curl(&denied.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, "403", "{body}");
    assert!(body.contains("demo-no-deleting-users"), "{body}");
    // The Gate's own counters reach /metrics.
    let (code, metrics) = curl(&[&format!("{url}/metrics")]);
    assert_eq!(code, "200", "{metrics}");
    let count = |needle: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(needle))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{needle} missing: {metrics}"))
    };
    assert!(count("warden_gate_decisions_total{decision=\"allow\"}") >= 1);
    assert!(count("warden_gate_decisions_total{decision=\"deny\"}") >= 1);
    let (code, _) = server.terminate();
    assert_eq!(code, Some(0));
}

/// `warden hash-password` given "correct horse" on stdin, every stream piped; with
/// `close_stdout`, the reading end of its stdout is closed before it prints.
fn hash_password_output(close_stdout: bool) -> std::process::Output {
    let mut child = Command::new(BIN)
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    if close_stdout {
        drop(child.stdout.take());
    }
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"correct horse\n")
        .expect("write");
    child.wait_with_output().expect("wait")
}

#[test]
fn hash_password_prints_argon2id_and_scram() {
    let out = hash_password_output(false);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(warden_gate::auth::password::verify_password(
        lines[0],
        "correct horse"
    ));
    assert!(!warden_gate::auth::password::verify_password(
        lines[0],
        "correct horse\n"
    ));
    let scram = warden_gate::auth::ScramVerifier::parse(lines[1]).expect("scram");
    assert_eq!(
        scram,
        warden_gate::auth::ScramVerifier::derive("correct horse", &scram.salt, scram.iterations)
    );
    assert_eq!(
        warden_config::MysqlNativeVerifier::parse(lines[2]),
        Some(warden_config::MysqlNativeVerifier::generate(
            "correct horse"
        ))
    );
    assert!(!text.contains("correct horse"));

    let (code, _, err) = {
        let out = Command::new(BIN)
            .arg("hash-password")
            .stdin(Stdio::null())
            .output()
            .expect("run");
        (
            out.status.code(),
            (),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn example_config_has_no_mistakes_besides_its_placeholders() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/warden.example.yaml");
    let text = std::fs::read_to_string(&path).expect("example config");
    let errors =
        warden_config::Config::parse(&text, "warden.example.yaml", Path::new("/etc/warden"))
            .expect_err("placeholders and absent files are reported")
            .0;
    // Only what a real deployment fills in may be reported: files, secrets, hashes, keys.
    for e in &errors {
        let expected = e.message.starts_with("no such file")
            || e.message.contains("environment variable")
            || e.message.starts_with("cannot read")
            || e.message.starts_with("not an argon2")
            || e.key.contains("tokens")
            || e.key.contains("ssh_authorized_keys");
        assert!(expected, "unexpected problem in the example config: {e}");
    }
}

#[test]
fn serve_console_over_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(ok.success());
    let port = free_port();
    let cfg = write_config(dir.path(), port, "");
    let text = std::fs::read_to_string(&cfg).expect("read");
    let text = text.replace(
        &format!("listen: 127.0.0.1:{port}\n"),
        &format!("listen: 127.0.0.1:{port}\n  tls: {{ cert: cert.pem, key: key.pem }}\n"),
    );
    std::fs::write(&cfg, text).expect("write");
    let server = Server::start(&["serve", "--config", cfg.to_str().expect("utf8")]);
    let line = server.wait_stdout("console listening on", Duration::from_secs(30));
    assert!(line.contains("https://"), "{line}");
    let url = format!("https://127.0.0.1:{port}/healthz");
    let (code, body) = curl(&["--cacert", cert.to_str().expect("utf8"), &url]);
    assert_eq!(code, "200", "{body}");
    // Plain HTTP on the TLS port gets nothing useful.
    let (code, _) = curl(&[&format!("http://127.0.0.1:{port}/healthz")]);
    assert_ne!(code, "200");
    let (code, _) = server.terminate();
    assert_eq!(code, Some(0));
}

/// `warden hash-password | head -1` closed the pipe before the later lines: the
/// `println!`s panicked ("failed printing to stdout", exit 101).
#[test]
fn hash_password_into_a_closed_pipe_exits_quietly() {
    // The reading end is closed before the (slow, argon2) hash is printed.
    let out = hash_password_output(true);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {err}", out.status);
    assert!(!err.contains("panicked"), "{err}");
}
