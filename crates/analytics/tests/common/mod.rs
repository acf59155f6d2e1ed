//! Builders for crafted audit records (export JSON lines) and a replay helper.

#![allow(dead_code)]

use serde_json::json;
use warden_analytics::replay::{self, ReplayOptions};
use warden_analytics::{Alert, Engine, Settings};

/// 2026-01-05T00:00:00Z, a Monday.
pub const T0: i64 = 1_767_571_200;
pub const H: i64 = 3600;
pub const D: i64 = 86_400;

/// Export lines under construction, seq in order of `push`.
#[derive(Default)]
pub struct Log {
    pub lines: Vec<(i64, serde_json::Value)>,
}

impl Log {
    pub fn push(&mut self, t: i64, event: serde_json::Value) {
        self.lines.push((t, event));
    }

    pub fn login(&mut self, t: i64, user: &str, role: &str, ip: &str, target: &str) {
        self.push(
            t,
            json!({"kind":"authenticated","actor":{"name":user,"roles":[role],"client_addr":format!("{ip}:5000")},
                   "target":target,"protocol":"postgres","session":"s"}),
        );
    }

    pub fn failed(&mut self, t: i64, user: &str, ip: &str) {
        self.push(
            t,
            json!({"kind":"auth_failed","actor":{"name":user,"roles":[],"client_addr":format!("{ip}:5000")},
                   "target":"db","protocol":"postgres","detail":"password authentication failed"}),
        );
    }

    /// An action (decided with `decision`, completed when allowed).
    #[allow(clippy::too_many_arguments)]
    pub fn action(
        &mut self,
        t: i64,
        user: &str,
        role: &str,
        ip: &str,
        target: &str,
        sql: &str,
        decision: &str,
        rows: u64,
        error: Option<&str>,
    ) {
        let actor = json!({"name":user,"roles":[role],"client_addr":format!("{ip}:5000")});
        self.push(
            t,
            json!({"kind":"action_decided","actor":actor,"target":target,"protocol":"postgres",
                   "action":{"protocol":"postgres","user":actor,"target":{"name":target},"raw":sql,
                             "facts":{"kind":"sql","statements":[],"unparsed":true}},
                   "verdict":{"decision":decision,"rules":[]}}),
        );
        if decision == "allow" {
            let mut outcome = json!({"status":"SELECT","rows":rows,"bytes":rows * 100});
            if let Some(e) = error {
                outcome["error"] = json!(e);
            }
            self.push(
                t,
                json!({"kind":"action_completed","actor":actor,"target":target,"protocol":"postgres",
                       "outcome":outcome}),
            );
        }
    }

    /// A working day 09:00-17:00 of `n` ordinary selects for `user` on `day`.
    pub fn workday(&mut self, day: i64, user: &str, role: &str, ip: &str, target: &str, n: i64) {
        let start = T0 + day * D + 9 * H;
        self.login(start, user, role, ip, target);
        for i in 0..n {
            let t = start + 60 + i * (8 * H / n.max(1));
            let sql = format!("SELECT * FROM t{} WHERE id = {}", i % 5, i);
            self.action(t, user, role, ip, target, &sql, "allow", 10, None);
        }
    }

    /// Export lines, sorted by time (stable), numbered from 1.
    pub fn render(&self) -> String {
        let mut v: Vec<&(i64, serde_json::Value)> = self.lines.iter().collect();
        v.sort_by_key(|(t, _)| *t);
        let mut out = String::new();
        for (i, (t, ev)) in v.iter().enumerate() {
            let time = time::OffsetDateTime::from_unix_timestamp(*t)
                .unwrap()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap();
            out.push_str(&json!({"seq": i + 1, "time": time, "event": ev}).to_string());
            out.push('\n');
        }
        out
    }
}

/// Replay `text` with `settings`, returning the alerts.
pub fn replay_with(text: &str, settings: &Settings) -> Vec<Alert> {
    let mut out = Vec::new();
    let mut engine = Engine::new(settings).unwrap();
    replay::run_with(
        text.as_bytes(),
        &mut engine,
        ReplayOptions::default(),
        &mut out,
    )
    .unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn replay(text: &str) -> Vec<Alert> {
    replay_with(text, &Settings::default())
}

/// Alerts of one detector.
pub fn of<'a>(alerts: &'a [Alert], detector: &str) -> Vec<&'a Alert> {
    alerts
        .iter()
        .filter(|a| a.detector.name() == detector)
        .collect()
}

/// Three roles' worth of ordinary history: `days` working days for alice/bob/carol
/// (developers on app-db from their desks) and dave (analyst on warehouse).
pub fn history(days: i64) -> Log {
    let mut log = Log::default();
    for day in 0..days {
        if day % 7 >= 5 {
            continue;
        }
        log.workday(day, "alice", "developer", "10.1.0.10", "app-db", 40);
        log.workday(day, "bob", "developer", "10.1.0.11", "app-db", 40);
        log.workday(day, "carol", "developer", "10.1.0.12", "app-db", 40);
        log.workday(day, "dave", "analyst", "10.1.1.20", "warehouse", 30);
    }
    log
}
