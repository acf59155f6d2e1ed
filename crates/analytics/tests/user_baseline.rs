//! The per-user baseline the console shows: hour-of-week cells, targets with their use
//! counts, addresses, the per-day volume trend ending today, and trust.

mod common;

use common::{history, Log, D, H, T0};
use warden_analytics::replay::{self, ReplayOptions};
use warden_analytics::{Engine, Settings, UserBaseline};

fn baseline_after(log: &Log, user: &str) -> Option<UserBaseline> {
    let mut engine = Engine::new(&Settings::default()).expect("settings");
    let mut out = Vec::new();
    replay::run_with(
        log.render().as_bytes(),
        &mut engine,
        ReplayOptions::default(),
        &mut out,
    )
    .expect("replay");
    engine.user_baseline(user)
}

#[test]
fn a_new_users_first_actions_show_today() {
    let mut log = Log::default();
    // Wednesday (T0 is a Monday) 14:10 UTC: three actions on app-db, one on warehouse.
    let t = T0 + 2 * D + 14 * H + 600;
    log.login(t, "erin", "developer", "10.1.0.40", "app-db");
    for i in 0..3 {
        log.action(
            t + i,
            "erin",
            "developer",
            "10.1.0.40",
            "app-db",
            "SELECT 1",
            "allow",
            1,
            None,
        );
    }
    log.action(
        t + 5,
        "erin",
        "developer",
        "10.1.0.41",
        "warehouse",
        "SELECT 2",
        "allow",
        1,
        Some("boom"),
    );
    let b = baseline_after(&log, "erin").expect("erin is known");
    assert_eq!(b.hour_of_week.len(), 168);
    assert_eq!(b.hour_of_week[2 * 24 + 14], 1, "{:?}", b.hour_of_week);
    assert_eq!(b.hour_of_week.iter().sum::<u32>(), 1);
    assert_eq!(b.targets[0].name, "warehouse");
    let app_db = b
        .targets
        .iter()
        .find(|x| x.name == "app-db")
        .expect("app-db");
    assert_eq!(app_db.actions, 3, "three actions (the login is no action)");
    assert_eq!(app_db.last_seen, t + 2);
    assert_eq!(b.addresses.len(), 2);
    assert_eq!(b.daily.len(), 28);
    let today = b.daily.last().expect("today");
    assert_eq!(today.date, "2026-01-07");
    assert_eq!((today.actions, today.completed, today.errors), (4, 4, 1));
    assert!(!b.trusted && !b.knows_habits);
    assert_eq!(b.time_zone, "UTC");
    assert_eq!(b.last_active, t + 5);
    assert!(baseline_after(&log, "nobody").is_none());
}

#[test]
fn weeks_of_work_make_a_trusted_baseline_with_usual_hours() {
    let log = history(22);
    let b = baseline_after(&log, "alice").expect("alice");
    assert!(b.trusted && b.knows_habits, "{b:?}");
    // Working days at 09:00 on Mondays: the first three Mondays are closed days in the
    // window and the fourth is today.
    assert!(b.hour_of_week[9] >= 3, "{:?}", &b.hour_of_week[..24]);
    assert_eq!(b.hour_of_week[5 * 24 + 9], 0, "no Saturdays");
    assert_eq!(b.targets.len(), 1);
    let volume: u64 = b.daily.iter().map(|d| d.actions).sum();
    assert!(volume >= 15 * 40, "{volume}");
    assert!(b.daily.iter().any(|d| d.actions == 0), "weekends are zero");
}
