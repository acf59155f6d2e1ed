//! Read-only views of the engine for the console and for tests: a user's baseline (usual
//! hours as an hour-of-week heatmap, usual targets with their use counts, addresses,
//! the per-day volume trend, trust) and the size of the engine's state.
//!
//! Copies out what it shows; never changes the engine.

use std::collections::BTreeMap;

use serde::Serialize;

use super::clock::{self, weekday};
use super::metric::Metric;
use super::user::DaySummary;
use super::Engine;
use crate::settings::span::DAY;

/// How much state the engine holds (bounded by subjects, never by records).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EngineStats {
    pub users: usize,
    pub roles: usize,
    pub addresses: usize,
    pub departed: usize,
    pub suppressed: usize,
    /// Targets, addresses, repeated actions and baseline days summed over users.
    pub user_entries: usize,
}

/// One user's baseline, as the console's per-user page shows it. Hours, targets and
/// volumes include today (the running day), so a user's first actions show at once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserBaseline {
    pub user: String,
    pub roles: Vec<String>,
    /// Enough history to judge hours and volumes against the user's own baseline.
    pub trusted: bool,
    /// Enough history to judge targets and addresses (twice `min_history`).
    pub knows_habits: bool,
    /// First record about the user still in memory (Unix seconds).
    pub first_seen: i64,
    /// Days in the baseline with a login or an action (closed days; today not counted).
    pub active_days: u32,
    /// Days the baseline covers (the `baseline` setting).
    pub baseline_days: u32,
    /// The configured time zone hours are counted in, `UTC` or `+01:00`.
    pub time_zone: String,
    /// Active days per local hour of the week (Monday 00:00 first), 168 values.
    pub hour_of_week: Vec<u32>,
    /// Targets used in the baseline window, most recent first.
    pub targets: Vec<UsualTarget>,
    /// Client addresses (IP) of successful logins and actions in the baseline window,
    /// most recent first.
    pub addresses: Vec<UsualAddress>,
    /// One entry per local day of the baseline window, oldest first, ending today
    /// (days without activity are zero).
    pub daily: Vec<DayVolume>,
    /// Median of daily peaks per windowed quantity (`actions`, `rows`, ...).
    pub usual_peaks: BTreeMap<String, f64>,
    /// Failed share of completed actions over the baseline (closed days).
    pub error_share: f64,
    /// Last successful login or action (Unix seconds; 0: none yet).
    pub last_active: i64,
}

/// A target a user used, with how many actions they sent it and when last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsualTarget {
    pub name: String,
    /// Actions decided on it since it was last new to the user (within the window).
    pub actions: u64,
    /// Unix seconds.
    pub last_seen: i64,
}

/// A client address a user logged in or acted from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsualAddress {
    pub address: String,
    /// Unix seconds.
    pub last_seen: i64,
}

/// One local day of a user's volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayVolume {
    /// `2026-03-04` (local).
    pub date: String,
    pub actions: u64,
    pub completed: u64,
    pub errors: u64,
}

impl Engine {
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            users: self.users.len(),
            roles: self.roles.len(),
            addresses: self.addresses.len(),
            departed: self.departed.len(),
            suppressed: self.dedup.len(),
            user_entries: self
                .users
                .values()
                .map(|u| u.targets.len() + u.addresses.len() + u.repeats.len() + u.days.len())
                .sum(),
        }
    }

    /// The baseline of `user`, when the engine knows them (a user it never saw, or
    /// swept after the baseline window, is `None`).
    pub fn user_baseline(&self, user: &str) -> Option<UserBaseline> {
        let u = self.users.get(user)?;
        let keep_days = (self.tuning.baseline.nanos() / DAY).max(1);
        let today = clock::local(self.now, self.tuning.utc_offset).day;
        let first_day = today - keep_days + 1;
        let days: Vec<&DaySummary> = u
            .days
            .iter()
            .chain(std::iter::once(&u.today))
            .filter(|d| d.day >= first_day && d.day <= today)
            .collect();
        let mut how = vec![0u32; 168];
        for d in &days {
            for h in 0..24 {
                if d.hours & (1 << h) != 0 {
                    how[weekday(d.day) * 24 + h] += 1;
                }
            }
        }
        let daily = (first_day..=today)
            .map(|day| {
                let mut v = DayVolume {
                    date: clock::date(day),
                    actions: 0,
                    completed: 0,
                    errors: 0,
                };
                for d in days.iter().filter(|d| d.day == day) {
                    v.actions += d.actions;
                    v.completed += d.completed;
                    v.errors += d.errors;
                }
                v
            })
            .collect();
        let mut targets: Vec<UsualTarget> = u
            .targets
            .iter()
            .map(|(k, t)| UsualTarget {
                name: k.to_string(),
                actions: u.target_uses.get(k).copied().unwrap_or(0),
                last_seen: unix_seconds(*t),
            })
            .collect();
        targets.sort_by(|a, b| {
            b.last_seen
                .cmp(&a.last_seen)
                .then_with(|| a.name.cmp(&b.name))
        });
        let mut addresses: Vec<UsualAddress> = u
            .addresses
            .iter()
            .map(|(k, t)| UsualAddress {
                address: k.to_string(),
                last_seen: unix_seconds(*t),
            })
            .collect();
        addresses.sort_by(|a, b| {
            b.last_seen
                .cmp(&a.last_seen)
                .then_with(|| a.address.cmp(&b.address))
        });
        let usual_peaks = Metric::ALL
            .iter()
            .map(|m| (m.noun().to_string(), u.cached.median[m.index()]))
            .collect();
        let min_history = self.tuning.min_history.nanos();
        Some(UserBaseline {
            user: user.to_string(),
            roles: u.roles.iter().map(|r| r.to_string()).collect(),
            trusted: u.trusted(self.now, min_history),
            knows_habits: u.knows_habits(self.now, min_history),
            first_seen: unix_seconds(u.first_seen),
            active_days: u.cached.active_days,
            baseline_days: u32::try_from(keep_days).unwrap_or(u32::MAX),
            time_zone: time_zone(self.tuning.utc_offset),
            hour_of_week: how,
            targets,
            addresses,
            daily,
            usual_peaks,
            error_share: u.cached.error_share,
            last_active: unix_seconds(u.last_active),
        })
    }
}

fn unix_seconds(nanos: i64) -> i64 {
    nanos.div_euclid(DAY / 86_400)
}

/// `UTC`, `+01:00`, `-05:30`.
fn time_zone(offset_seconds: i64) -> String {
    if offset_seconds == 0 {
        return "UTC".to_string();
    }
    let sign = if offset_seconds < 0 { '-' } else { '+' };
    let m = offset_seconds.abs() / 60;
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}
