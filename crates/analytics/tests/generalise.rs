//! Misses found on workloads of another shape than the repository's generator
//! (`benches/analytics/generate.py --profile alt`): teams in another time zone than the
//! configured one, and users whose baseline holds one odd day. Each test failed before
//! the change it names.

mod common;

use common::{history, of, replay, Log, D, H, T0};

/// A working day 08:00-18:00 at UTC-6 (14:00-24:00 UTC) for `user`, with a login and
/// `n` selects.
fn western_day(log: &mut Log, day: i64, user: &str, ip: &str, n: i64) {
    let start = T0 + day * D + 14 * H;
    log.login(start, user, "support", ip, "app-db");
    for i in 0..n {
        let t = start + 60 + i * (9 * H / n);
        let sql = format!("SELECT * FROM t{} WHERE id = {i}", i % 5);
        log.action(t, user, "support", ip, "app-db", &sql, "allow", 10, None);
    }
}

/// Off-hours: a role's deep night is counted from its own working day (engine/role.rs,
/// `deep_night`), not from the configured working hours. Twelve support members work
/// 08:00-18:00 at UTC-6; on most days one of them comes back at 19:00 local (01:00 UTC,
/// the configured deep night 23-04) after a break. Judged against the configured hours
/// the role "worked nights" and no night start of any member was news; its own deep
/// night is 03-10 UTC (21:00-04:00 local).
#[test]
fn evening_returns_in_another_time_zone_are_not_an_on_call_rota() {
    let mut log = Log::default();
    let members: Vec<(String, String)> = (0..12)
        .map(|i| (format!("s{i}"), format!("10.1.3.{}", i + 10)))
        .collect();
    for day in 0..28 {
        if day % 7 >= 5 {
            continue;
        }
        for (name, ip) in &members {
            western_day(&mut log, day, name, ip, 30);
        }
        // An evening return (19:00-20:00 local) by a different member most days.
        let (name, ip) = &members[(day as usize * 5) % members.len()];
        let t = T0 + (day + 1) * D + H;
        log.login(t, name, "support", ip, "app-db");
        log.action(
            t + 60,
            name,
            "support",
            ip,
            "app-db",
            "SELECT 1",
            "allow",
            1,
            None,
        );
    }
    // s3 at 02:30 local (08:30 UTC) on day 29, a Tuesday.
    let t = T0 + 29 * D + 8 * H + 1800;
    log.login(t, "s3", "support", "10.1.3.13", "app-db");
    log.action(
        t + 30,
        "s3",
        "support",
        "10.1.3.13",
        "app-db",
        "SELECT 1",
        "allow",
        1,
        None,
    );
    let alerts = replay(&log.render());
    let off = of(&alerts, "off-hours");
    assert_eq!(off.len(), 1, "{alerts:#?}");
    assert_eq!(off[0].user.as_deref(), Some("s3"));
    assert!(
        off[0].explanation.contains("08:30"),
        "{}",
        off[0].explanation
    );
}

/// Failed-login burst: the adaptive threshold doubles a busy day's busiest window (90th
/// percentile of daily peaks), not the baseline's busiest (detect/mod.rs, `adaptive`).
/// Alice mistyped her password 4 times on one day of her baseline: 7 failures from an
/// unknown address are news (the bar was twice 4, 8; now the floor, 5).
#[test]
fn one_odd_typo_day_does_not_double_the_failed_login_threshold() {
    let mut log = history(21);
    for i in 0..4 {
        log.failed(T0 + 10 * D + 9 * H - 300 + i * 20, "alice", "10.1.0.10");
    }
    for i in 0..7 {
        log.failed(T0 + 23 * D + 14 * H + i * 30, "alice", "203.0.113.9");
    }
    let alerts = replay(&log.render());
    let bursts = of(&alerts, "failed-login-burst");
    assert_eq!(bursts.len(), 1, "{alerts:#?}");
    let e = &bursts[0].explanation;
    assert!(
        e.starts_with("alice: 5 failed logins in 10m from 203.0.113.9"),
        "{e}"
    );
    assert!(e.contains("4 at the busiest"), "{e}");
    assert!(e.contains("(threshold 5)"), "{e}");
}

/// A report job: `n` identical selects in a minute at `t`.
fn report_run(log: &mut Log, t: i64, user: &str, role: &str, n: i64) {
    log.login(t, user, role, "10.50.0.11", "reporting-db");
    for i in 0..n {
        let sql = format!(
            "SELECT * FROM kpi WHERE day = '{}' AND region = 'eu'",
            i % 28
        );
        log.action(
            t + 1 + i,
            user,
            role,
            "10.50.0.11",
            "reporting-db",
            &sql,
            "allow",
            20,
            None,
        );
    }
}

/// Newcomer fallbacks are for newcomers (engine/handle.rs, `learning`). The replay
/// starts at 18:00 on day 0; a report job first runs at 01:30 on day 1 and hourly from
/// then on, 40 identical selects a minute. On day 7 the engine is warm (7 whole days
/// since its first record) but the job's own baseline is not trusted until day 8 (7
/// whole days since its first run): it used to be judged as a newcomer for that day —
/// the same action 40 times in 1m against the bare floor of 30, and active at 01:30
/// outside the configured working hours. A user first seen after the engine is warm is
/// still judged that way.
#[test]
fn a_job_seen_since_the_start_is_not_judged_as_a_newcomer() {
    let mut log = Log::default();
    log.login(T0 + 18 * H, "early", "ops", "10.1.0.1", "app-db");
    for day in 1..9 {
        for hour in 0..13 {
            let t = T0 + day * D + H + 1800 + hour * H;
            report_run(&mut log, t, "svc-report", "reporting", 40);
        }
    }
    report_run(&mut log, T0 + 8 * D + 10 * H, "newbie", "analyst", 40);
    let alerts = replay(&log.render());
    let svc: Vec<_> = alerts
        .iter()
        .filter(|a| a.user.as_deref() == Some("svc-report"))
        .collect();
    assert!(svc.is_empty(), "{svc:#?}");
    let rr = of(&alerts, "rapid-repetition");
    assert_eq!(rr.len(), 1, "{alerts:#?}");
    assert_eq!(rr[0].user.as_deref(), Some("newbie"));
    assert!(
        rr[0].explanation.contains("no baseline yet"),
        "{}",
        rr[0].explanation
    );
}

/// Support with two shifts: six members work 08:00-16:00, four 14:00-22:00 and on
/// every third day go on to 01:30 (a late night, continuing their shift). `extra`
/// events are added by the test.
fn two_shifts(days: i64) -> Log {
    let mut log = Log::default();
    let shift = |log: &mut Log, day: i64, user: &str, ip: &str, from: i64, to: i64| {
        let start = T0 + day * D + from;
        log.login(start, user, "support", ip, "api-internal");
        let mut t = start + 60;
        let mut i = 0;
        while t < T0 + day * D + to {
            let sql = format!("SELECT * FROM tickets WHERE id = {i}");
            log.action(
                t,
                user,
                "support",
                ip,
                "api-internal",
                &sql,
                "allow",
                3,
                None,
            );
            t += 20 * 60;
            i += 1;
        }
    };
    for day in 0..days {
        if day % 7 >= 5 {
            continue;
        }
        for i in 0..6 {
            let (user, ip) = (format!("day{i}"), format!("10.1.4.{}", 10 + i));
            shift(&mut log, day, &user, &ip, 8 * H, 16 * H);
        }
        for i in 0..4 {
            let (user, ip) = (format!("late{i}"), format!("10.1.5.{}", 10 + i));
            let end = if (day + i) % 3 == 0 {
                25 * H + 1800
            } else {
                22 * H
            };
            shift(&mut log, day, &user, &ip, 14 * H, end);
        }
    }
    log
}

/// Off-hours: a night start is judged against the user's own hours, whatever the
/// other shift of their role does then (engine/handle.rs, `off_hours::own_night`).
/// The late shift of support is at work until 01:30 on a third of its days, so 01:00
/// was "usual for the role" and a day-shift member's login at 01:00 — nine hours after
/// their day ends — was not news. An evening back at 19:00, three hours after their
/// day, still is not (the role works then, and it is not the user's night).
#[test]
fn the_other_shift_of_a_role_does_not_excuse_a_night() {
    let mut log = two_shifts(28);
    // Day 29 (a Wednesday): day2 back at 19:00 for half an hour.
    let t = T0 + 29 * D + 19 * H;
    log.login(t, "day2", "support", "10.1.4.12", "api-internal");
    log.action(
        t + 60,
        "day2",
        "support",
        "10.1.4.12",
        "api-internal",
        "SELECT 1",
        "allow",
        1,
        None,
    );
    // Day 30: day3 at 01:00.
    let t = T0 + 30 * D + H;
    log.login(t, "day3", "support", "10.1.4.13", "api-internal");
    log.action(
        t + 60,
        "day3",
        "support",
        "10.1.4.13",
        "api-internal",
        "SELECT 1",
        "allow",
        1,
        None,
    );
    let alerts = replay(&log.render());
    let off = of(&alerts, "off-hours");
    assert_eq!(off.len(), 1, "{off:#?}");
    assert_eq!(off[0].user.as_deref(), Some("day3"));
    assert!(
        off[0].explanation.contains("01:00"),
        "{}",
        off[0].explanation
    );
}
