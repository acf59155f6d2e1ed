//! `warden analytics replay` through the real binary: alerts as JSON lines, the same
//! output twice, settings from a warden.yaml, and a bad line named with exit 2.

use std::process::{Command, Output};

fn replay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("analytics")
        .arg("replay")
        .args(args)
        .output()
        .expect("run warden")
}

/// Export-format lines: `n` failed logins for mallory from 10.1.2.3, 10 s apart.
fn failed_logins(n: u64) -> String {
    (1..=n)
        .map(|i| {
            format!(
                concat!(
                    r#"{{"seq":{},"time":"2026-11-02T03:{:02}:{:02}Z","#,
                    r#""event":{{"kind":"auth_failed","actor":{{"name":"mallory","roles":[],"#,
                    r#""client_addr":"10.1.2.3:5{:03}"}},"target":"app-db","protocol":"postgres","#,
                    r#""detail":"wrong password"}}}}"#,
                    "\n"
                ),
                100 + i,
                (i * 10) / 60,
                (i * 10) % 60,
                i
            )
        })
        .collect()
}

#[test]
fn a_failed_login_burst_is_one_alert_naming_its_numbers_and_replays_identically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, failed_logins(7)).expect("write events");
    let path = events.to_str().expect("utf-8 path");
    let first = replay(&["--events", path]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let out = String::from_utf8(first.stdout.clone()).expect("utf-8");
    let alerts: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON alert a line"))
        .collect();
    let bursts: Vec<&serde_json::Value> = alerts
        .iter()
        .filter(|a| a["detector"] == "failed-login-burst")
        .collect();
    assert_eq!(bursts.len(), 1, "{out}");
    let a = bursts[0];
    assert_eq!(a["user"], "mallory");
    assert_eq!(a["client_addr"], "10.1.2.3");
    let why = a["explanation"].as_str().expect("explanation");
    assert!(
        why.contains("mallory") && why.contains("failed logins"),
        "{why}"
    );
    let evidence = a["evidence"].as_array().expect("evidence");
    assert!(evidence.len() >= 5, "{a}");
    assert!(evidence
        .iter()
        .all(|s| (101..=107).contains(&s.as_u64().unwrap_or(0))));
    let second = replay(&["--events", path]);
    assert_eq!(first.stdout, second.stdout, "replays differ");
}

#[test]
fn settings_come_from_the_analytics_section_of_a_warden_yaml() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, failed_logins(7)).expect("write events");
    let config = dir.path().join("warden.yaml");
    std::fs::write(
        &config,
        "web: { listen: 127.0.0.1:0 }\nanalytics:\n  detectors:\n    failed-login-burst: { off: true }\n",
    )
    .expect("write config");
    let out = replay(&[
        "--events",
        events.to_str().expect("path"),
        "--config",
        config.to_str().expect("path"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("failed-login-burst"), "{text}");
}

#[test]
fn a_bad_line_is_named_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("events.jsonl");
    let mut text = failed_logins(2);
    text.push_str("{not json\n");
    std::fs::write(&events, text).expect("write events");
    let out = replay(&["--events", events.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3"), "{err}");
}
