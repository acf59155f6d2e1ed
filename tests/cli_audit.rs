//! `warden audit verify|export|tail` end to end, against stores written by the real
//! audit log.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use warden_audit::{AuditConfig, AuditLog, Durability, Event, EventKind, VerdictSummary};
use warden_inspect::Actor;

fn warden(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run warden");
    // Bounded: none of these commands may hang.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("warden {args:?} did not finish in 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn event(i: u64) -> Event {
    let mut ev = Event::new(EventKind::ActionDecided);
    ev.actor = Some(Actor {
        name: if i.is_multiple_of(2) { "alice" } else { "bob" }.into(),
        roles: vec![],
        client_addr: None,
        alerts: Vec::new(),
    });
    ev.target = Some("prod-db".into());
    ev.verdict = Some(VerdictSummary {
        decision: if i.is_multiple_of(5) { "deny" } else { "allow" }.into(),
        rules: vec!["r".into()],
        ..VerdictSummary::default()
    });
    ev.detail = Some(format!("statement number {i}"));
    ev
}

fn build(dir: &Path, name: &str, n: u64) -> AuditConfig {
    let mut cfg = AuditConfig::new(dir.join(name));
    cfg.checkpoint_file = Some(dir.join(format!("{name}.checkpoints.jsonl")));
    let log = AuditLog::open(cfg.clone()).expect("open");
    for i in 1..=n {
        log.append_blocking(event(i), Durability::Queued)
            .expect("append");
    }
    log.shutdown().expect("shutdown");
    cfg
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn verify_reports_an_intact_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path(), "audit", 100);
    let cp = cfg.checkpoint_file.clone().expect("file");
    let out = warden(&[
        "audit",
        "verify",
        "--path",
        s(&cfg.path),
        "--checkpoints",
        s(&cp),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("ok: 100 records, head "),
        "{}",
        text(&out.stdout)
    );

    let out = warden(&["audit", "verify", "--path", s(&cfg.path), "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(v["ok"], true);
    assert_eq!(v["records"], 100);
}

#[test]
fn verify_exits_3_on_a_truncated_store() {
    // Store B (same key, 40 records) checked against store A's checkpoint file (which
    // sealed 100 records) looks exactly like A with its tail cut off.
    let dir = tempfile::tempdir().expect("tempdir");
    let a = build(dir.path(), "a", 100);
    let mut b = AuditConfig::new(dir.path().join("b"));
    b.signing_key = a.signing_key.clone();
    let log = AuditLog::open(b.clone()).expect("open b");
    for i in 1..=40 {
        log.append_blocking(event(i), Durability::Queued)
            .expect("append");
    }
    log.shutdown().expect("shutdown");
    drop(log);
    let cp = a.checkpoint_file.clone().expect("file");
    let key = a.signing_key.to_str().expect("utf-8");
    let out = warden(&[
        "audit",
        "verify",
        "--path",
        s(&b.path),
        "--checkpoints",
        s(&cp),
        "--key",
        key,
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("FAILED at record 41: "), "{stdout}");
    assert!(stdout.contains("truncated"), "{stdout}");
}

#[test]
fn verify_exits_3_on_a_forged_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path(), "audit", 50);
    let cp = cfg.checkpoint_file.clone().expect("file");
    let lines = std::fs::read_to_string(&cp).expect("read");
    let mut last: serde_json::Value =
        serde_json::from_str(lines.lines().last().expect("a line")).expect("json");
    assert_eq!(last["seq"], 50);
    last["time_ns"] = serde_json::json!(last["time_ns"].as_i64().expect("ns") + 1);
    std::fs::write(&cp, format!("{lines}{last}\n")).expect("write");
    let out = warden(&[
        "audit",
        "verify",
        "--path",
        s(&cfg.path),
        "--checkpoints",
        s(&cp),
    ]);
    assert_eq!(out.status.code(), Some(3));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("FAILED at record 50: "), "{stdout}");
    assert!(stdout.contains("invalid signature"), "{stdout}");
}

#[test]
fn export_prints_filtered_json_lines_oldest_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path(), "audit", 60);
    let out = warden(&["audit", "export", "--path", s(&cfg.path)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    assert_eq!(lines.len(), 60);
    assert_eq!(lines[0]["seq"], 1);
    assert_eq!(lines[59]["seq"], 60);
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);
    assert_eq!(lines[0]["event"]["actor"]["name"], "bob");

    let out = warden(&[
        "audit",
        "export",
        "--path",
        s(&cfg.path),
        "--user",
        "alice",
        "--verdict",
        "deny",
    ]);
    let seqs: Vec<u64> = text(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["seq"]
                .as_u64()
                .expect("seq")
        })
        .collect();
    assert_eq!(seqs, vec![10, 20, 30, 40, 50, 60]);

    let out = warden(&[
        "audit",
        "export",
        "--path",
        s(&cfg.path),
        "--q",
        "NUMBER 42",
    ]);
    assert_eq!(text(&out.stdout).lines().count(), 1);

    let since = lines[30]["time"].as_str().expect("time").to_string();
    let out = warden(&["audit", "export", "--path", s(&cfg.path), "--since", &since]);
    let first: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().next().expect("a line")).expect("json");
    assert!(first["seq"].as_u64().expect("seq") <= 31);

    let out = warden(&[
        "audit",
        "export",
        "--path",
        s(&cfg.path),
        "--since",
        "yesterday",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn tail_prints_the_newest_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path(), "audit", 30);
    let out = warden(&["audit", "tail", "--path", s(&cfg.path), "-n", "5"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let seqs: Vec<u64> = text(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["seq"]
                .as_u64()
                .expect("seq")
        })
        .collect();
    assert_eq!(seqs, vec![26, 27, 28, 29, 30]);
    let out = warden(&[
        "audit",
        "tail",
        "--path",
        s(&cfg.path),
        "-n",
        "3",
        "--user",
        "bob",
    ]);
    assert_eq!(text(&out.stdout).lines().count(), 3);
}

#[test]
fn commands_refuse_a_store_held_by_a_running_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path(), "audit", 5);
    let log = AuditLog::open(cfg.clone()).expect("open");
    for cmd in ["verify", "export", "tail"] {
        let out = warden(&["audit", cmd, "--path", s(&cfg.path)]);
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        assert!(
            text(&out.stderr).contains("in use by another process"),
            "{cmd}: {}",
            text(&out.stderr)
        );
    }
    drop(log);
    let out = warden(&[
        "audit",
        "verify",
        "--path",
        s(&dir.path().join("nothing-here")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !dir.path().join("nothing-here").exists(),
        "verify must not create a store"
    );
}

#[test]
fn tail_follow_prints_records_appended_while_the_store_is_free() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path(), "audit", 3);
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args([
            "audit",
            "tail",
            "--path",
            s(&cfg.path),
            "-n",
            "1",
            "--follow",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run warden");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let v: serde_json::Value = serde_json::from_str(&line).expect("json line");
            if tx.send(v["seq"].as_u64().expect("seq")).is_err() {
                break;
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the newest record");
    assert_eq!(first, 3);
    // The follower opens the store briefly once a second: retry while it holds it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let log = loop {
        match AuditLog::open(cfg.clone()) {
            Ok(log) => break log,
            Err(e) if std::time::Instant::now() < deadline => {
                assert!(e.to_string().contains("in use"), "{e}");
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("could not open the store: {e}"),
        }
    };
    log.append_blocking(event(4), Durability::Durable)
        .expect("append");
    log.shutdown().expect("shutdown");
    drop(log);
    let next = rx.recv_timeout(Duration::from_secs(10));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(next.ok(), Some(4));
}
