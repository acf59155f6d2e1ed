//! Replay: errors name their line, output is deterministic, state stays bounded, and a
//! restored engine does not raise alerts for records already judged.

mod common;

use common::{history, Log, D, H, T0};
use proptest::prelude::*;
use warden_analytics::replay::{self, ReplayError, ReplayOptions};
use warden_analytics::{Engine, Settings};

#[test]
fn a_bad_line_is_an_error_naming_it() {
    let mut log = Log::default();
    log.failed(T0, "a", "10.0.0.1");
    let text = format!(
        "{}\n{{\"seq\": 9, \"time\": \"2026-01-05T00:00:00Z\"\nnot json\n",
        log.render()
    );
    let err = replay::run(text.as_bytes(), &Settings::default(), Vec::new()).unwrap_err();
    match err {
        ReplayError::Line { line, .. } => assert_eq!(line, 3),
        other => panic!("{other}"),
    }
    let no_time = "{\"event\":{\"kind\":\"auth_failed\"}}\n";
    let err = replay::run(no_time.as_bytes(), &Settings::default(), Vec::new()).unwrap_err();
    assert!(err.to_string().starts_with("line 1: no `time`"), "{err}");
}

#[test]
fn bare_events_and_missing_seqs_use_line_numbers() {
    let lines = (0..6)
        .map(|i| {
            format!(
                "{{\"time\":\"2026-01-05T00:00:0{i}Z\",\"kind\":\"auth_failed\",\"actor\":{{\"name\":\"x\",\"client_addr\":\"10.0.0.1:1\"}}}}"
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let alerts = common::replay(&format!("\n{lines}\n"));
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].evidence, vec![2, 3, 4, 5, 6]);
}

#[test]
fn out_of_order_lines_are_reordered_when_asked() {
    let mut log = Log::default();
    for i in 0..6 {
        log.failed(T0 + i * 10, "m", "10.0.0.9");
    }
    let mut lines: Vec<&str> = Vec::new();
    let text = log.render();
    lines.extend(text.lines());
    lines.swap(0, 5);
    let shuffled = lines.join("\n");
    let mut engine = Engine::new(&Settings::default()).unwrap();
    let mut out = Vec::new();
    let stats = replay::run_with(
        shuffled.as_bytes(),
        &mut engine,
        ReplayOptions::reordering(60 * 1_000_000_000),
        &mut out,
    )
    .unwrap();
    assert_eq!(stats.late, 0);
    let alert: warden_analytics::Alert =
        serde_json::from_slice(out.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(alert.time.unix_timestamp(), T0 + 40);
    let plain = replay::run(shuffled.as_bytes(), &Settings::default(), Vec::new()).unwrap();
    assert_eq!(plain.late, 5);
}

fn workload(seed: u64, users: u8, events: u16) -> String {
    let mut log = Log::default();
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut next = || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        x >> 33
    };
    let mut t = T0;
    for _ in 0..events {
        t += (next() % 3000) as i64;
        let u = format!("u{}", next() % u64::from(users.max(1)));
        let ip = format!("10.0.{}.{}", next() % 3, next() % 4);
        match next() % 6 {
            0 => log.failed(t, &u, &ip),
            1 => log.login(t, &u, "r", &ip, &format!("db{}", next() % 4)),
            2 => log.action(t, &u, "r", &ip, "db0", "DROP TABLE x", "deny", 0, None),
            3 => log.action(
                t,
                &u,
                "r",
                &ip,
                "db1",
                "SELECT 1",
                "allow",
                next() % 100_000,
                Some("boom"),
            ),
            _ => log.action(
                t,
                &u,
                "r",
                &ip,
                "db2",
                &format!("SELECT * FROM t WHERE id = {}", next()),
                "allow",
                5,
                None,
            ),
        }
    }
    log.render()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn replay_is_deterministic(seed in any::<u64>(), users in 1u8..12, events in 1u16..1500) {
        let text = workload(seed, users, events);
        let run = || {
            let mut out = Vec::new();
            replay::run(text.as_bytes(), &Settings::default(), &mut out).unwrap();
            out
        };
        prop_assert_eq!(run(), run());
    }

    #[test]
    fn state_is_bounded_by_subjects_not_records(seed in any::<u64>(), users in 1u8..8) {
        let text = workload(seed, users, 4000);
        let mut engine = Engine::new(&Settings::default()).unwrap();
        replay::run_with(text.as_bytes(), &mut engine, ReplayOptions::default(), Vec::new()).unwrap();
        let s = engine.stats();
        prop_assert!(s.users <= usize::from(users));
        prop_assert!(s.addresses <= 12);
        // Per user: at most 4 targets, 12 addresses, 32 repeated actions, 28 days.
        prop_assert!(s.user_entries <= usize::from(users) * (4 + 12 + 32 + 28));
    }
}

#[test]
fn state_is_swept_when_subjects_go_quiet() {
    let mut log = Log::default();
    for i in 0..2000 {
        log.failed(
            T0 + i,
            &format!("random{i}"),
            &format!("10.{}.{}.{}", i % 7, i % 11, i % 13),
        );
    }
    log.login(T0 + 3 * D, "late", "r", "10.0.0.1", "db");
    let mut engine = Engine::new(&Settings::default()).unwrap();
    replay::run_with(
        log.render().as_bytes(),
        &mut engine,
        ReplayOptions::default(),
        Vec::new(),
    )
    .unwrap();
    let s = engine.stats();
    assert!(s.users <= 1, "{s:?}");
    assert!(s.addresses <= 1, "{s:?}");
}

#[test]
fn restore_learns_silently_and_does_not_raise_judged_records_again() {
    let mut log = history(10);
    let t = T0 + 10 * D + 10 * H;
    for i in 0..6 {
        log.failed(t + i, "alice", "10.9.9.9");
    }
    let records: Vec<warden_audit::Record> = log
        .render()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["prev_hash"] = serde_json::json!("");
            v["hash"] = serde_json::json!("");
            serde_json::from_value(v).unwrap()
        })
        .collect();
    let last = records.last().unwrap().seq;

    let mut live = Engine::new(&Settings::default()).unwrap();
    let raised: Vec<_> = records.iter().flat_map(|r| live.observe(r)).collect();
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].detector.name(), "failed-login-burst");

    // A restart that had judged everything: silent, and the same records again are skipped.
    let mut restarted = Engine::new(&Settings::default()).unwrap();
    assert!(restarted.restore(&records, last).is_empty());
    assert_eq!(restarted.judged_through(), last);
    assert!(records.iter().all(|r| restarted.observe(r).is_empty()));

    // A restart that had judged up to just before the burst raises it once.
    let mut behind = Engine::new(&Settings::default()).unwrap();
    let again = behind.restore(&records, last - 6);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0], raised[0]);
}
