//! Read-only views of the engine for the console and for tests: a user's baseline (usual
//! hours as an hour-of-week heatmap, usual targets and addresses, volume) and the size
//! of the engine's state.
//!
//! Copies out what it shows; never changes the engine.

use std::collections::BTreeMap;

use serde::Serialize;

use super::clock::weekday;
use super::metric::Metric;
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

/// One user's baseline, as the console shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserBaseline {
    pub user: String,
    pub roles: Vec<String>,
    /// Enough history to judge against.
    pub trusted: bool,
    pub active_days: u32,
    /// Active days per local hour of the week (Monday 00:00 first), 168 values.
    pub hour_of_week: Vec<u32>,
    /// Targets used in the baseline window, most recent first.
    pub targets: Vec<String>,
    /// Client addresses used in the baseline window, most recent first.
    pub addresses: Vec<String>,
    /// Median of daily peaks per windowed quantity (`actions`, `rows`, ...).
    pub usual_peaks: BTreeMap<String, f64>,
    /// Failed share of completed actions.
    pub error_share: f64,
    /// Last successful login or action (Unix seconds).
    pub last_active: i64,
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

    /// The baseline of `user`, when the engine knows them.
    pub fn user_baseline(&self, user: &str) -> Option<UserBaseline> {
        let u = self.users.get(user)?;
        let mut how = vec![0u32; 168];
        for d in &u.days {
            for h in 0..24 {
                if d.hours & (1 << h) != 0 {
                    how[weekday(d.day) * 24 + h] += 1;
                }
            }
        }
        let recent = |mut v: Vec<(i64, String)>| {
            v.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            v.into_iter().map(|(_, s)| s).collect::<Vec<_>>()
        };
        let targets = recent(u.targets.iter().map(|(k, t)| (*t, k.to_string())).collect());
        let addresses = recent(
            u.addresses
                .iter()
                .map(|(k, t)| (*t, k.to_string()))
                .collect(),
        );
        let usual_peaks = Metric::ALL
            .iter()
            .map(|m| (m.noun().to_string(), u.cached.median[m.index()]))
            .collect();
        Some(UserBaseline {
            user: user.to_string(),
            roles: u.roles.iter().map(|r| r.to_string()).collect(),
            trusted: u.trusted(self.now, self.tuning.min_history.nanos()),
            active_days: u.cached.active_days,
            hour_of_week: how,
            targets,
            addresses,
            usual_peaks,
            error_share: u.cached.error_share,
            last_active: u.last_active.div_euclid(DAY / 86_400),
        })
    }
}
