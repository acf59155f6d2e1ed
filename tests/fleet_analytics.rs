//! Fleet-wide analytics end to end: three `warden serve` replicas (the real binary,
//! loopback ports) share one PostgreSQL fleet database. Failed logins spread over the
//! replicas are one burst: one alert, on every replica, whose lock refuses the login on
//! a replica that saw none of them; an alert-based rule holds on a replica that saw
//! none of the alert's records and lets go when the alert is resolved on another; an
//! outage of the fleet database counts no record twice.

mod cli_support;

use std::process::Command;
use std::time::{Duration, Instant};

use cli_support::{admin_query as query, curl, fleet, set_accepting_connections, test_database};

const PW: &str = "fleet-analytics-pw-1";

struct Replica {
    server: cli_support::Server,
    alerts: String,
    pg: String,
}

fn start_replica(root: &std::path::Path, id: &str, fleet_db: &str, spec_extra: &str) -> Replica {
    let spec = fleet::ReplicaSpec {
        policy: "version: 1\nrules:\n  - name: no-access-under-burst\n    when: { user: { alerts: [failed-login-burst] } }\n    action: deny\n",
        password: PW,
        extra: spec_extra,
        users: &[("dave", "developer"), ("erin", "developer"), ("sec", "security")],
        fleet_keys: &[format!("replica_id: {id}"), "ship_every: 100ms".to_string()],
    };
    let r = fleet::start_replica(root, id, fleet_db, &spec);
    Replica {
        alerts: format!("http://127.0.0.1:{}/api/v1/alerts", r.web_port),
        server: r.server,
        pg: r.pg,
    }
}

/// `SELECT 1` as `user` through a replica's postgres target; (success, stderr).
fn login(r: &Replica, user: &str, password: &str) -> (bool, String) {
    let out = Command::new("psql")
        .arg(format!(
            "postgresql://{user}@{}/postgres?sslmode=disable",
            r.pg
        ))
        .args(["-w", "-qAtc", "SELECT 1"])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn fail_logins(r: &Replica, user: &str, n: usize) {
    for _ in 0..n {
        let (ok, stderr) = login(r, user, "wrong-password");
        assert!(!ok, "a wrong password was accepted");
        assert!(!stderr.contains("locked"), "{stderr}");
    }
}

/// The replica's alerts of `detector` for `user` (any status).
fn alerts(r: &Replica, user: &str) -> Vec<serde_json::Value> {
    let (code, body) = curl(&[
        "-u",
        &format!("sec:{PW}"),
        &format!(
            "{}?status=all&user={user}&detector=failed-login-burst",
            r.alerts
        ),
    ]);
    assert_eq!(code, "200", "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v["alerts"].as_array().expect("alerts").clone()
}

/// Waits until every replica lists exactly one such alert with `status`; returns them.
fn wait_one_alert(rs: &[&Replica], user: &str, status: &str) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got: Vec<Vec<serde_json::Value>> = rs.iter().map(|r| alerts(r, user)).collect();
        if got.iter().all(|a| a.len() == 1 && a[0]["status"] == status) {
            return got.into_iter().map(|mut a| a.remove(0)).collect();
        }
        assert!(
            got.iter().all(|a| a.len() <= 1),
            "more than one alert: {got:#?}"
        );
        assert!(
            Instant::now() < deadline,
            "not one {status} alert everywhere: {got:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `alert_raised` records of `user` shipped by any replica.
fn raised_in_fleet(fleet_db: &str, user: &str) -> String {
    query(
        fleet_db,
        &format!("SELECT count(*) FROM warden_audit_records WHERE event::jsonb->>'kind' = 'alert_raised' AND event::jsonb->'alert'->>'user' = '{user}'"),
    )
}

fn evidence_count(alert: &serde_json::Value) -> (usize, Vec<String>) {
    let local = alert["evidence"].as_array().map_or(0, Vec::len);
    let remote: Vec<String> = alert["fleet_evidence"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    (local, remote)
}

#[test]
fn failed_logins_spread_over_three_replicas_raise_one_burst_whose_lock_holds_everywhere() {
    let Some(fleet) = test_database("warden_fleet_an_burst", "SELECT 1") else {
        return;
    };
    let root = tempfile::tempdir().expect("tempdir");
    let extra = "analytics:\n  detectors:\n    failed-login-burst: { threshold: 5, window: 10m, lock: 15m }\n";
    let [a, b, c] = ["a", "b", "c"].map(|id| start_replica(root.path(), id, &fleet.0, extra));

    // 3 + 2 failures: below the threshold on A and on B, at it together. (A sixth
    // attempt could already be refused by the lock.)
    fail_logins(&a, "dave", 3);
    fail_logins(&b, "dave", 2);
    let last_failure = Instant::now();
    let seen = wait_one_alert(&[&a, &b, &c], "dave", "open");
    eprintln!(
        "burst alert on all three replicas {:?} after the last failure",
        last_failure.elapsed()
    );
    let id = seen[0]["id"].as_str().expect("id");
    assert!(seen.iter().all(|s| s["id"] == id), "{seen:#?}");
    let (local, remote) = evidence_count(&seen[0]);
    assert!(local + remote.len() >= 5, "{:#?}", seen[0]);
    assert!(
        !remote.is_empty(),
        "the raising replica used the others' records: {:#?}",
        seen[0]
    );

    // C saw none of the failures; the lock refuses dave there (and the right password).
    let (ok, stderr) = login(&c, "dave", PW);
    assert!(!ok, "dave was let in on C");
    assert!(
        stderr.contains(&format!("locked by alert {id}")),
        "{stderr}"
    );

    // C's feed counted the others' records on /metrics.
    let (code, metrics) = curl(&[&c.alerts.replace("/api/v1/alerts", "/metrics")]);
    assert_eq!(code, "200");
    let fed: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("warden_fleet_feed_records_total "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(fed >= 5, "{metrics}");
    assert!(metrics.contains("# TYPE warden_fleet_feed_lag_milliseconds gauge"));

    // One alert recorded in the whole fleet, one claim; it stays one.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(raised_in_fleet(&fleet.0, "dave"), "1");
    assert_eq!(
        query(
            &fleet.0,
            "SELECT count(*) FROM warden_alerts WHERE detector = 'failed-login-burst'"
        ),
        "1"
    );
    for r in [&a, &b, &c] {
        assert_eq!(alerts(r, "dave").len(), 1);
    }

    // C restarted: it rebuilds the alert (raised in another chain) from the fleet's
    // records of the window, and the lock still holds there.
    let (code, _) = c.server.terminate();
    assert_eq!(code, Some(0));
    let c = start_replica(root.path(), "c", &fleet.0, extra);
    let listed = wait_one_alert(&[&c], "dave", "open");
    assert_eq!(listed[0]["id"], id);
    let (ok, stderr) = login(&c, "dave", PW);
    assert!(
        !ok && stderr.contains(&format!("locked by alert {id}")),
        "{stderr}"
    );
}

#[test]
fn an_alert_rule_holds_on_every_replica_and_an_outage_counts_no_record_twice() {
    let Some(fleet) = test_database("warden_fleet_an_rule", "SELECT 1") else {
        return;
    };
    let root = tempfile::tempdir().expect("tempdir");
    let extra = "analytics:\n  detectors:\n    failed-login-burst: { threshold: 5, window: 10m }\n";
    let [a, b, c] = ["a", "b", "c"].map(|id| start_replica(root.path(), id, &fleet.0, extra));
    let (ok, stderr) = login(&c, "alice", PW);
    assert!(ok, "alice without alerts: {stderr}");

    // A burst for alice raised from A's and B's records; C saw none of them.
    fail_logins(&a, "alice", 3);
    fail_logins(&b, "alice", 2);
    let seen = wait_one_alert(&[&a, &b, &c], "alice", "open");
    let id = seen[0]["id"].as_str().expect("id").to_string();
    let (ok, stderr) = login(&c, "alice", PW);
    assert!(!ok, "the alert rule did not hold on C");
    assert!(stderr.contains("no-access-under-burst"), "{stderr}");

    // Resolved on B: C lets alice in again.
    let (code, body) = curl(&[
        "-u",
        &format!("sec:{PW}"),
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        "{\"reason\":\"fleet test\"}",
        &format!("{}/{id}/resolve", b.alerts),
    ]);
    assert_eq!(code, "200", "{body}");
    let resolved_at = Instant::now();
    wait_one_alert(&[&a, &b, &c], "alice", "resolved");
    eprintln!(
        "resolution on B seen on all three after {:?}",
        resolved_at.elapsed()
    );
    let (ok, stderr) = login(&c, "alice", PW);
    assert!(
        ok,
        "alice still refused on C after the resolution: {stderr}"
    );

    // erin: 1 failure on A fed to the others, then the fleet database goes away: 1 more
    // on A and 2 on B while it is away. 4 in all once it is back: below the threshold
    // unless a replica counts a record twice.
    fail_logins(&a, "erin", 1);
    std::thread::sleep(Duration::from_secs(2));
    set_accepting_connections(&fleet.0, false);
    fail_logins(&a, "erin", 1);
    fail_logins(&b, "erin", 2);
    std::thread::sleep(Duration::from_secs(3));
    set_accepting_connections(&fleet.0, true);
    let back = Instant::now();
    let deadline = back + Duration::from_secs(8);
    while Instant::now() < deadline {
        assert_eq!(
            raised_in_fleet(&fleet.0, "erin"),
            "0",
            "a record was counted twice"
        );
        for r in [&a, &b, &c] {
            assert!(alerts(r, "erin").is_empty(), "a record was counted twice");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    // Every replica must have all four by now: the fifth, on C, makes the burst.
    assert_eq!(
        query(&fleet.0, "SELECT count(*) FROM warden_audit_records WHERE event::jsonb->>'kind' = 'auth_failed' AND event::jsonb->'actor'->>'name' = 'erin'"),
        "4"
    );
    fail_logins(&c, "erin", 1);
    let seen = wait_one_alert(&[&a, &b, &c], "erin", "open");
    let (local, remote) = evidence_count(&seen[0]);
    let mut distinct = remote.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), remote.len(), "{:#?}", seen[0]);
    assert_eq!(local + remote.len(), 5, "{:#?}", seen[0]);
    assert!(
        seen[0]["explanation"]
            .as_str()
            .is_some_and(|e| e.contains("erin: 5 failed logins")),
        "{:#?}",
        seen[0]
    );
    assert_eq!(raised_in_fleet(&fleet.0, "erin"), "1");
}
