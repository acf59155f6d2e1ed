//! Each detector fires on a crafted incident, stays quiet on ordinary noise, names its
//! numbers and deduplicates.

mod common;

use common::{history, of, replay, Log, D, H, T0};

#[test]
fn failed_login_burst_fires_at_the_threshold_once_and_names_the_numbers() {
    let mut log = Log::default();
    for i in 0..4 {
        log.failed(T0 + i * 10, "mallory", "10.9.9.9");
    }
    assert!(
        of(&replay(&log.render()), "failed-login-burst").is_empty(),
        "4 is noise"
    );
    for i in 4..20 {
        log.failed(T0 + i * 10, "mallory", "10.9.9.9");
    }
    let alerts = replay(&log.render());
    let burst = of(&alerts, "failed-login-burst");
    assert_eq!(burst.len(), 1, "deduplicated: {burst:?}");
    let a = burst[0];
    assert_eq!(a.user.as_deref(), Some("mallory"));
    assert_eq!(a.client_addr.as_deref(), Some("10.9.9.9"));
    assert!(
        a.explanation
            .contains("5 failed logins in 10m from 10.9.9.9"),
        "{}",
        a.explanation
    );
    assert_eq!(a.evidence, vec![1, 2, 3, 4, 5]);
}

#[test]
fn password_spray_is_keyed_by_the_address() {
    let mut log = Log::default();
    for (i, u) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
        log.failed(T0 + i as i64 * 30, u, "198.18.0.7");
    }
    let alerts = replay(&log.render());
    let spray = of(&alerts, "password-spray");
    assert_eq!(spray.len(), 1);
    assert_eq!(spray[0].user, None);
    assert_eq!(spray[0].client_addr.as_deref(), Some("198.18.0.7"));
    assert!(
        spray[0].explanation.contains("5 different users"),
        "{}",
        spray[0].explanation
    );
    assert!(of(&alerts, "failed-login-burst").is_empty());
}

#[test]
fn privilege_changes_count_whatever_the_verdict() {
    let mut log = Log::default();
    log.action(
        T0,
        "eve",
        "dev",
        "10.0.0.5",
        "db",
        "GRANT ALL ON payroll TO eve",
        "deny",
        0,
        None,
    );
    log.action(
        T0 + 5,
        "eve",
        "dev",
        "10.0.0.5",
        "db",
        "SET ROLE admin",
        "allow",
        0,
        None,
    );
    log.push(
        T0 + 10,
        serde_json::json!({"kind":"policy_reloaded","detail":"12 rules from p/"}),
    );
    log.push(
        T0 + 20,
        serde_json::json!({"kind":"policy_reloaded","detail":"12 rules from p/; users added: zed; roles changed: eve"}),
    );
    let alerts = replay(&log.render());
    let p = of(&alerts, "privilege-change");
    assert_eq!(p.len(), 3, "{p:#?}");
    assert!(
        p[0].explanation.contains("GRANT on db (denied)"),
        "{}",
        p[0].explanation
    );
    assert_eq!(p[1].user.as_deref(), Some("zed"));
    assert_eq!(p[2].user.as_deref(), Some("eve"));
}

#[test]
fn ordinary_weeks_raise_nothing() {
    let alerts = replay(&history(28).render());
    assert!(alerts.is_empty(), "{alerts:#?}");
}

#[test]
fn off_hours_fires_on_a_fresh_night_session_not_on_a_long_day() {
    let mut log = history(21);
    // A long day: alice keeps working until 23:00 without a break.
    for i in 0..30 {
        let t = T0 + 21 * D + 16 * H + i * 840;
        log.action(
            t,
            "alice",
            "developer",
            "10.1.0.10",
            "app-db",
            "SELECT 1",
            "allow",
            1,
            None,
        );
    }
    // Bob at 03:10, from his desk, on his usual target.
    log.login(
        T0 + 22 * D + 3 * H + 600,
        "bob",
        "developer",
        "10.1.0.11",
        "app-db",
    );
    let alerts = replay(&log.render());
    let off = of(&alerts, "off-hours");
    assert_eq!(off.len(), 1, "{off:#?}");
    assert_eq!(off[0].user.as_deref(), Some("bob"));
    assert!(
        off[0].explanation.contains("03:10"),
        "{}",
        off[0].explanation
    );
    assert!(
        off[0].explanation.contains("usual hours 09"),
        "{}",
        off[0].explanation
    );
}

#[test]
fn new_source_and_first_access_need_a_known_baseline() {
    let mut log = history(21);
    let t = T0 + 21 * D + 10 * H;
    log.login(t, "carol", "developer", "203.0.113.50", "app-db");
    log.login(t + 60, "alice", "developer", "10.1.0.10", "payroll");
    // A new hire's first days are not news.
    log.login(t + 120, "newbie", "developer", "10.1.0.99", "payroll");
    let alerts = replay(&log.render());
    let ns = of(&alerts, "new-source");
    assert_eq!(ns.len(), 1, "{ns:#?}");
    assert_eq!(ns[0].client_addr.as_deref(), Some("203.0.113.50"));
    assert!(
        ns[0].explanation.contains("usual: 10.1.0.12"),
        "{}",
        ns[0].explanation
    );
    let fa = of(&alerts, "first-access");
    assert_eq!(fa.len(), 1, "{fa:#?}");
    assert_eq!(fa[0].target.as_deref(), Some("payroll"));
}

#[test]
fn dormant_account_after_thirty_days_only() {
    let mut log = Log::default();
    log.login(T0, "old", "x", "10.0.0.1", "db");
    log.login(T0 + 20 * D, "old", "x", "10.0.0.1", "db");
    log.login(T0 + 20 * D + 31 * D, "old", "x", "10.0.0.1", "db");
    let alerts = replay(&log.render());
    let d = of(&alerts, "dormant-account");
    assert_eq!(d.len(), 1);
    assert!(
        d[0].explanation.contains("first activity in 31 days"),
        "{}",
        d[0].explanation
    );
    assert_eq!(d[0].evidence, vec![3]);
}

#[test]
fn denial_storm_error_spike_and_repetition() {
    let mut log = history(14);
    let t = T0 + 15 * D + 10 * H;
    for i in 0..10 {
        log.action(
            t + i * 30,
            "alice",
            "developer",
            "10.1.0.10",
            "app-db",
            &format!("DROP TABLE t{i}"),
            "deny",
            0,
            None,
        );
    }
    for i in 0..14 {
        let err = (i % 5 != 0).then_some("permission denied");
        log.action(
            t + i * 20,
            "bob",
            "developer",
            "10.1.0.11",
            "app-db",
            &format!("SELECT secret{i} FROM s"),
            "allow",
            0,
            err,
        );
    }
    for i in 0..60 {
        log.action(
            t + i,
            "carol",
            "developer",
            "10.1.0.12",
            "app-db",
            &format!("SELECT * FROM customers WHERE id = {i}"),
            "allow",
            1,
            None,
        );
    }
    let alerts = replay(&log.render());
    let ds = of(&alerts, "denial-storm");
    assert_eq!(ds.len(), 1, "{alerts:#?}");
    assert!(
        ds[0]
            .explanation
            .starts_with("alice: 8 denied or held actions in 10m"),
        "{}",
        ds[0].explanation
    );
    let es = of(&alerts, "error-spike");
    assert_eq!(es.len(), 1, "{alerts:#?}");
    assert_eq!(es[0].user.as_deref(), Some("bob"));
    let rr = of(&alerts, "rapid-repetition");
    assert_eq!(rr.len(), 1, "{alerts:#?}");
    assert!(
        rr[0]
            .explanation
            .contains("select * from customers where id = ?"),
        "{}",
        rr[0].explanation
    );
    assert!(
        rr[0].explanation.contains("30 times in 1m"),
        "{}",
        rr[0].explanation
    );
}

#[test]
fn unusual_volume_against_the_users_own_baseline() {
    let mut log = history(14);
    let t = T0 + 15 * D + 11 * H;
    for i in 0..8 {
        log.action(
            t + i * 120,
            "dave",
            "analyst",
            "10.1.1.20",
            "warehouse",
            "SELECT * FROM customers",
            "allow",
            400_000,
            None,
        );
    }
    let alerts = replay(&log.render());
    let v = of(&alerts, "unusual-volume");
    assert_eq!(v.len(), 1, "{alerts:#?}");
    assert!(v[0].explanation.contains("rows"), "{}", v[0].explanation);
}

#[test]
fn a_detector_can_be_turned_off_and_locks_are_carried() {
    let mut log = Log::default();
    for i in 0..6 {
        log.failed(T0 + i, "m", "10.0.0.9");
    }
    let settings: warden_analytics::Settings = serde_yaml::from_str(
        "detectors:\n  failed-login-burst: { lock: 15m, severity: critical }\n  password-spray: { off: true }\n",
    )
    .unwrap();
    let alerts = common::replay_with(&log.render(), &settings);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].severity, warden_analytics::Severity::Critical);
    let lock = alerts[0].lock.as_ref().unwrap();
    assert_eq!(lock.seconds, 900);
}
