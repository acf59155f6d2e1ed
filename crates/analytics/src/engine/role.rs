//! Per-role baselines: which targets the role's members use, when the role works, and
//! how busy its members' days are — the fallback for members whose own baseline is not
//! trusted yet, and what makes a target usual for a newcomer to the role.
//!
//! Bounded by members × targets and the baseline's days; never by record count.

use super::fxhash::FastMap;
use std::collections::{BTreeMap, VecDeque};

use super::metric::METRICS;
use super::user::DaySummary;
use crate::stats::robust::quantile;

/// Most member-days pooled per role.
const MAX_POOLED: usize = 2048;

/// One role.
#[derive(Debug, Clone, Default)]
pub struct RoleState {
    /// Member -> last activity.
    pub members: FastMap<Box<str>, i64>,
    /// Target -> member -> last use.
    pub targets: FastMap<Box<str>, FastMap<Box<str>, i64>>,
    /// Local day -> (member-days active in each hour, active member-days).
    hours: BTreeMap<i64, ([u32; 24], u32)>,
    /// Member -> days on which they started work in each local hour (after a quiet
    /// spell; saturating).
    member_starts: FastMap<Box<str>, [u8; 24]>,
    /// Local day -> (member, hours in which they started work after a quiet spell),
    /// for the baseline's days: how often the role starts work at an hour.
    start_days: BTreeMap<i64, Vec<(Box<str>, u32)>>,
    /// Members' closed days (day, peaks).
    pooled: VecDeque<(i64, [f64; METRICS])>,
    pub cached: RoleCached,
}

/// Role statistics, recomputed once a day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoleCached {
    /// Active member-days in the baseline.
    pub member_days: u32,
    pub hour_days: [u32; 24],
    pub q90: [f64; METRICS],
}

impl RoleState {
    pub fn touch(&mut self, member: &str, now: i64) {
        match self.members.get_mut(member) {
            Some(t) => *t = now,
            None => {
                self.members.insert(member.into(), now);
            }
        }
    }

    pub fn use_target(&mut self, target: &str, member: &str, now: i64) {
        let users = match self.targets.get_mut(target) {
            Some(u) => u,
            None => self.targets.entry(target.into()).or_default(),
        };
        match users.get_mut(member) {
            Some(t) => *t = now,
            None => {
                users.insert(member.into(), now);
            }
        }
    }

    /// Members other than `member` who used `target` since `since`.
    pub fn peers_on(&self, target: &str, member: &str, since: i64) -> usize {
        self.targets.get(target).map_or(0, |users| {
            users
                .iter()
                .filter(|(u, t)| &***u != member && **t >= since)
                .count()
        })
    }

    /// Pool a member's closed day.
    pub fn add_day(&mut self, member: &str, d: &DaySummary) {
        if d.starts != 0 {
            if !self.member_starts.contains_key(member) {
                self.member_starts.insert(member.into(), [0; 24]);
            }
            if let Some(counts) = self.member_starts.get_mut(member) {
                for (h, n) in counts.iter_mut().enumerate() {
                    if d.starts & (1 << h) != 0 {
                        *n = n.saturating_add(1);
                    }
                }
            }
            self.start_days
                .entry(d.day)
                .or_default()
                .push((member.into(), d.starts));
        }
        if d.hours != 0 {
            let (row, active) = self.hours.entry(d.day).or_insert(([0; 24], 0));
            *active += 1;
            for (h, n) in row.iter_mut().enumerate() {
                if d.hours & (1 << h) != 0 {
                    *n += 1;
                }
            }
        }
        if self.pooled.len() == MAX_POOLED {
            self.pooled.pop_front();
        }
        self.pooled.push_back((d.day, d.peaks));
    }

    /// Forget what is older than the baseline and recompute the statistics.
    pub fn refresh(&mut self, today: i64, keep_days: i64, since: i64) {
        let first = today - keep_days;
        self.hours.retain(|day, _| *day > first);
        self.start_days.retain(|day, _| *day > first);
        while self.pooled.front().is_some_and(|(d, _)| *d <= first) {
            self.pooled.pop_front();
        }
        self.members.retain(|_, t| *t >= since);
        let members = &self.members;
        self.member_starts.retain(|m, _| members.contains_key(m));
        for users in self.targets.values_mut() {
            users.retain(|_, t| *t >= since);
        }
        self.targets.retain(|_, users| !users.is_empty());
        let mut c = RoleCached::default();
        for (row, active) in self.hours.values() {
            c.member_days += active;
            for (h, n) in row.iter().enumerate() {
                c.hour_days[h] += n;
            }
        }
        for m in 0..METRICS {
            let v: Vec<f64> = self.pooled.iter().map(|(_, p)| p[m]).collect();
            c.q90[m] = quantile(&v, 0.9);
        }
        self.cached = c;
    }

    /// Whether starting work around `hour` is a practice of the role (an on-call rota):
    /// other members — at least 2, and a fifth of them — have each started work within
    /// 2 hours of it on at least 2 days; or the role works nights (see `routine_at`).
    /// (A one-off, such as an intruder's night, or a few of them in one role, does not
    /// make a practice.)
    pub fn practice_at(&self, hour: usize, member: &str, deep_night: u32) -> bool {
        self.each_member_practice(hour, member) || self.routine_at(member, deep_night)
    }

    /// The role works nights (an on-call rota): on at least a fifth of the baseline's
    /// days with any member active (and at least 2 days), another member started work
    /// in the deep night (`deep_night`: the bits of the hours at least 3 hours clear of
    /// the configured working hours), and at least 2 different members did. Late
    /// evenings and early birds of a day shift are not deep night; an intruder's night
    /// or a few of them are far below a fifth of the days.
    fn routine_at(&self, member: &str, deep_night: u32) -> bool {
        let mut nights = 0usize;
        let mut who: Vec<&str> = Vec::new();
        for starts in self.start_days.values() {
            let mut any = false;
            for (m, bits) in starts {
                if &**m != member && bits & deep_night != 0 {
                    any = true;
                    if who.len() < 2 && !who.contains(&&**m) {
                        who.push(m);
                    }
                }
            }
            nights += usize::from(any);
        }
        who.len() >= 2 && nights >= 2 && nights * 5 >= self.hours.len()
    }

    /// Enough other members each started work near `hour` on 2+ days.
    fn each_member_practice(&self, hour: usize, member: &str) -> bool {
        let others = self.members.len().saturating_sub(1);
        let needed = 2usize.max(others.div_ceil(5));
        let active = self
            .member_starts
            .iter()
            .filter(|(m, counts)| {
                &***m != member
                    && [22usize, 23, 0, 1, 2]
                        .iter()
                        .map(|d| u32::from(counts[(hour + d) % 24]))
                        .sum::<u32>()
                        >= 2
            })
            .count();
        active >= needed
    }

    /// Trusted as a fallback: enough member-days pooled.
    pub fn trusted(&self) -> bool {
        self.cached.member_days >= 10
    }
}
