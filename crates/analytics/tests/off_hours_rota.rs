//! `off-hours` and on-call rotas: a role whose members routinely start work at night
//! (pages) makes a night start usual for every member — also for one whose own
//! baseline is thin or not trusted yet — while a few one-off nights by different
//! members of a day-time role do not make a practice.

mod common;

use common::{history, of, replay, Log, D, H, T0};

/// Twelve SREs working weekdays; one of them paged on two nights out of five, in
/// turns, at an hour between 00:40 and 05:20: a routine of the role, though no single
/// night hour is busy for it.
fn with_sre_rota(log: &mut Log, days: i64) {
    let sres: Vec<(String, String)> = (0..12)
        .map(|i| (format!("sre{i}"), format!("10.1.2.{}", i + 1)))
        .collect();
    for day in 0..days {
        if day % 5 == 1 || day % 5 == 3 {
            let (name, ip) = &sres[(day as usize * 5) % sres.len()];
            let t = T0 + day * D + 2400 + (day % 6) * 3360;
            night_start(log, t, name, "sre", ip, "k8s-prod");
        }
        if day % 7 >= 5 {
            continue;
        }
        for (name, ip) in &sres {
            log.workday(day, name, "sre", ip, "k8s-prod", 20);
        }
    }
}

fn night_start(log: &mut Log, t: i64, user: &str, role: &str, ip: &str, target: &str) {
    log.login(t, user, role, ip, target);
    log.action(t + 30, user, role, ip, target, "SELECT 1", "allow", 1, None);
}

#[test]
fn a_page_at_night_is_usual_for_a_role_with_an_on_call_rota() {
    let mut log = history(28);
    with_sre_rota(&mut log, 28);
    // sre0 is paged at 03:30 — and a new SRE, with no history of her own, at 04:10.
    night_start(
        &mut log,
        T0 + 22 * D + 3 * H + 1800,
        "sre0",
        "sre",
        "10.1.2.1",
        "k8s-prod",
    );
    night_start(
        &mut log,
        T0 + 24 * D + 4 * H + 600,
        "sky",
        "sre",
        "10.1.2.99",
        "k8s-prod",
    );
    let alerts = replay(&log.render());
    assert!(of(&alerts, "off-hours").is_empty(), "{alerts:#?}");
}

#[test]
fn one_off_nights_of_a_day_time_role_stay_news() {
    let mut log = history(28);
    with_sre_rota(&mut log, 28);
    night_start(
        &mut log,
        T0 + 21 * D + 2 * H,
        "alice",
        "developer",
        "10.1.0.10",
        "app-db",
    );
    night_start(
        &mut log,
        T0 + 22 * D + 2 * H + 900,
        "bob",
        "developer",
        "10.1.0.11",
        "app-db",
    );
    night_start(
        &mut log,
        T0 + 23 * D + 3 * H,
        "carol",
        "developer",
        "10.1.0.12",
        "app-db",
    );
    let alerts = replay(&log.render());
    let off: Vec<_> = of(&alerts, "off-hours")
        .iter()
        .filter_map(|a| a.user.clone())
        .collect();
    assert_eq!(off, ["alice", "bob", "carol"], "{alerts:#?}");
}
