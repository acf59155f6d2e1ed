//! Per-role baselines: which targets the role's members use, when the role works, and
//! how busy its members' days are — the fallback for members whose own baseline is not
//! trusted yet, and what makes a target usual for a newcomer to the role.
//!
//! Bounded by members × targets and the baseline's days; never by record count.

use super::fxhash::FastMap;
use std::collections::{BTreeMap, VecDeque};

use super::metric::METRICS;
use super::user::DaySummary;
use crate::settings::span::DAY;
use crate::stats::robust::quantile;

/// Most member-days pooled per role.
const MAX_POOLED: usize = 2048;
/// An hour is part of the role's working day when members were active in it on at
/// least this share of the role's active member-days (its core hours: shoulders of
/// early starts and long days stay out, so they do not eat into the deep night).
const DAY_HOUR_SHARE: f64 = 0.25;
/// Deep night: hours at least this many hour-bins away from every working-day hour
/// (4 bins: the hour ends at least 3 hours before the day starts and begins at least 3
/// hours after it ends, as `Tuning::deep_night_hours` for the configured hours).
const DEEP_NIGHT_CLEARANCE: usize = 4;

/// One role.
#[derive(Debug, Clone, Default)]
pub struct RoleState {
    /// Member -> last activity.
    pub members: FastMap<Box<str>, i64>,
    /// Target -> member -> use while in the baseline window.
    pub targets: FastMap<Box<str>, FastMap<Box<str>, TargetUse>>,
    /// Local day -> (member-days active in each hour, active member-days).
    hours: BTreeMap<i64, ([u32; 24], u32)>,
    /// Local day -> (member, hours in which they started work after a quiet spell),
    /// for the baseline's days: when and how often the role starts work.
    start_days: BTreeMap<i64, Vec<(Box<str>, u32)>>,
    /// Members' closed days (day, peaks).
    pooled: VecDeque<(i64, [f64; METRICS])>,
    pub cached: RoleCached,
}

/// A member's use of a target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetUse {
    pub first: i64,
    pub last: i64,
    /// The member's first use was news for the role (`first-access` fired).
    pub news: bool,
}

/// Role statistics, recomputed once a day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoleCached {
    /// Active member-days in the baseline.
    pub member_days: u32,
    pub hour_days: [u32; 24],
    pub q90: [f64; METRICS],
    /// The role's own deep night (bits of local hours), from its working-day hours;
    /// `None` until the role is trusted (then the configured working hours decide).
    pub deep_night: Option<u32>,
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

    /// Record `member` using `target` at `now`; `news`: this first use was reported as a
    /// first access (kept for the member's later uses).
    pub fn use_target(&mut self, target: &str, member: &str, now: i64, news: bool) {
        let users = match self.targets.get_mut(target) {
            Some(u) => u,
            None => self.targets.entry(target.into()).or_default(),
        };
        match users.get_mut(member) {
            Some(t) => t.last = now,
            None => {
                let first = TargetUse {
                    first: now,
                    last: now,
                    news,
                };
                users.insert(member.into(), first);
            }
        }
    }

    /// Members other than `member` who used `target` since `since` — as an ordinary
    /// use, or, when their first use was itself reported as a first access, again on
    /// another day (a day or more later). A peer's reported visit alone — an intruder's
    /// session, someone else's first access — does not make a target usual for the
    /// role.
    pub fn peers_on(&self, target: &str, member: &str, since: i64) -> usize {
        self.targets.get(target).map_or(0, |users| {
            users
                .iter()
                .filter(|(u, t)| {
                    &***u != member && t.last >= since && (!t.news || t.last - t.first >= DAY)
                })
                .count()
        })
    }

    /// Pool a member's closed day.
    pub fn add_day(&mut self, member: &str, d: &DaySummary) {
        if d.starts != 0 {
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
        for users in self.targets.values_mut() {
            users.retain(|_, t| t.last >= since);
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
        if c.member_days >= TRUSTED_MEMBER_DAYS {
            c.deep_night = Some(deep_night(working_day_hours(&c.hour_days, c.member_days)));
        }
        self.cached = c;
    }

    /// Whether starting work around `hour` is a practice of the role (an on-call rota):
    /// other members — at least 2, and a fifth of them — have each started work within
    /// 2 hours of it on at least 2 days; or the role works nights (see `routine_at`).
    /// (A one-off, such as an intruder's night, or a few of them in one role, does not
    /// make a practice.) `configured_night` is the deep night of the configured
    /// working hours, used until the role's own day is known.
    pub fn practice_at(&self, hour: usize, member: &str, configured_night: u32) -> bool {
        let deep_night = self.cached.deep_night.unwrap_or(configured_night);
        self.each_member_practice(hour, member) || self.routine_at(member, deep_night)
    }

    /// The role works nights (an on-call rota): on at least a fifth of the baseline's
    /// days with any member active (and at least 2 days), another member started work
    /// in the deep night (`deep_night`: the bits of the hours at least 3 hours clear of
    /// the role's working day — see [`deep_night`]), and at least 2 different members
    /// did. Late evenings and early birds of a day shift are not deep night; an
    /// intruder's night or a few of them are far below a fifth of the days.
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

    /// Enough other members each started work within 2 hours of `hour` on 2+ days of
    /// the baseline (only its days: an early shift of last quarter is no practice now).
    fn each_member_practice(&self, hour: usize, member: &str) -> bool {
        let others = self.members.len().saturating_sub(1);
        let needed = 2usize.max(others.div_ceil(5));
        let near: u32 = [22usize, 23, 0, 1, 2]
            .iter()
            .fold(0, |bits, d| bits | 1 << ((hour + d) % 24));
        // (member, days with a start near the hour): a few dozen members at most.
        let mut days: Vec<(&str, u32)> = Vec::new();
        for starts in self.start_days.values() {
            for (m, bits) in starts {
                if &**m == member || bits & near == 0 {
                    continue;
                }
                match days.iter_mut().find(|(n, _)| *n == &**m) {
                    Some((_, n)) => *n += 1,
                    None => days.push((m, 1)),
                }
            }
        }
        days.iter().filter(|(_, n)| *n >= 2).count() >= needed
    }

    /// Trusted as a fallback: enough member-days pooled.
    pub fn trusted(&self) -> bool {
        self.cached.member_days >= TRUSTED_MEMBER_DAYS
    }
}

/// Member-days a role needs before its pooled statistics are trusted.
const TRUSTED_MEMBER_DAYS: u32 = 10;

/// The bits of the hours of a role's working day: active on at least a quarter of its
/// member-days. Counted in the engine's time zone from what members did, so a team in
/// another time zone than the configured one (or on a late shift) has its own day.
pub fn working_day_hours(hour_days: &[u32; 24], member_days: u32) -> u32 {
    let floor = DAY_HOUR_SHARE * f64::from(member_days.max(1));
    (0..24)
        .filter(|h| f64::from(hour_days[*h]) >= floor)
        .fold(0, |bits, h| bits | 1 << h)
}

/// The deep night around a working day (`day`: bits of its hours): the hours at least
/// 4 hour-bins from every working hour, on either side of midnight. A day spread over
/// most of the clock (two shifts) has little or no deep night; no working hours at all,
/// none (nothing to be clear of).
pub fn deep_night(day: u32) -> u32 {
    clear_of(day, DEEP_NIGHT_CLEARANCE)
}

/// The hours at least `bins` hour-bins from every hour of `day` (bits), on either side
/// of midnight; none when `day` is empty.
pub fn clear_of(day: u32, bins: usize) -> u32 {
    if day == 0 {
        return 0;
    }
    (0..24usize)
        .filter(|h| {
            (0..24usize).all(|d| {
                let dist = h.abs_diff(d).min(24 - h.abs_diff(d));
                day & (1 << d) == 0 || dist >= bins
            })
        })
        .fold(0, |bits, h| bits | 1 << h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(hours: impl IntoIterator<Item = usize>) -> u32 {
        hours.into_iter().fold(0, |b, h| b | 1 << h)
    }

    fn hours_of(b: u32) -> Vec<usize> {
        (0..24).filter(|h| b & (1 << h) != 0).collect()
    }

    #[test]
    fn a_peers_reported_visit_does_not_make_a_target_usual() {
        let mut role = RoleState::default();
        // bob's one session on bastion, reported as his first access (an intruder's
        // visit, say).
        role.use_target("bastion", "bob", 10 * DAY, true);
        role.use_target("bastion", "bob", 10 * DAY + 3_600_000_000_000, false);
        // dave's one ordinary use of billing; carol's reported first use of reports,
        // and her use of it a week later.
        role.use_target("billing", "dave", 3 * DAY, false);
        role.use_target("reports", "carol", 3 * DAY, true);
        role.use_target("reports", "carol", 10 * DAY, false);
        assert_eq!(role.peers_on("bastion", "erin", 0), 0);
        assert_eq!(role.peers_on("billing", "erin", 0), 1);
        assert_eq!(role.peers_on("reports", "erin", 0), 1);
        assert_eq!(role.peers_on("reports", "carol", 0), 0);
        // Forgotten once not used within the baseline window.
        role.refresh(40, 28, 12 * DAY);
        assert_eq!(role.peers_on("reports", "erin", 0), 0);
    }

    #[test]
    fn deep_night_of_the_configured_day_matches_the_settings() {
        // 07:00-20:00 as hour bins 7..=19: 23:00 to 04:00, as Tuning::deep_night_hours.
        assert_eq!(hours_of(deep_night(bits(7..20))), [0, 1, 2, 3, 23]);
        assert_eq!(deep_night(0), 0);
        assert_eq!(deep_night(bits(0..24)), 0);
    }

    #[test]
    fn a_team_in_another_time_zone_has_its_own_deep_night() {
        // A team working 08:00-18:00 at UTC-6 (14:00-24:00 UTC) plus a few late evenings
        // and night pages: its day is 14..=23 UTC, its deep night 03..=10 UTC — not the
        // configured 23:00-04:00, which is its evening.
        let mut hour_days = [0u32; 24];
        hour_days[14..24].fill(90);
        hour_days[0] = 6; // late evenings
        hour_days[8] = 3; // pages
        let day = working_day_hours(&hour_days, 100);
        assert_eq!(hours_of(day), (14..24).collect::<Vec<_>>());
        assert_eq!(hours_of(deep_night(day)), (3..11).collect::<Vec<_>>());
    }

    #[test]
    fn a_role_judges_night_starts_against_its_own_day() {
        // Ten members work 14:00-24:00 UTC; two of them, on two days in five, come
        // back at 01:00 UTC after a break (their evening, inside the configured deep
        // night 23-04).
        let mut role = RoleState::default();
        let configured = bits([23, 0, 1, 2, 3]);
        for day in 0..20i64 {
            for m in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"] {
                let mut d = DaySummary {
                    day,
                    hours: bits(14..24),
                    starts: bits([14]),
                    ..DaySummary::default()
                };
                if (m == "a" && day % 5 == 0) || (m == "b" && day % 5 == 2) {
                    d.starts |= bits([1]);
                    d.hours |= bits([1]);
                }
                role.touch(m, day * crate::settings::span::DAY);
                role.add_day(m, &d);
            }
        }
        // Before refresh: only the configured night is known; 01:00 starts look like
        // an on-call rota there.
        assert!(role.routine_at("z", configured));
        role.refresh(19, 28, 0);
        assert_eq!(role.cached.deep_night, Some(bits(3..11)));
        // With its own day known, the role does not work nights: a member's start at
        // 07:00 UTC (01:00 local) stays news for the off-hours detector.
        assert!(!role.practice_at(7, "z", configured));
    }

    #[test]
    fn starts_older_than_the_baseline_make_no_practice() {
        // Five members started work at 05:00 on days 0 and 1 (a two-day early shift),
        // then at 09:00 every day.
        let mut role = RoleState::default();
        for day in 0..41i64 {
            for m in ["a", "b", "c", "d", "e"] {
                let start = if day < 2 { 5 } else { 9 };
                let d = DaySummary {
                    day,
                    hours: bits(start..17),
                    starts: bits([start]),
                    ..DaySummary::default()
                };
                role.touch(m, day * DAY);
                role.add_day(m, &d);
            }
            role.refresh(day, 28, (day - 28) * DAY);
            if day == 3 {
                // In the baseline: starting near 05:00 is a practice of the role.
                assert!(role.practice_at(4, "z", 0));
            }
        }
        // Forty days on, out of the 28-day baseline: 04:00 is no one's start any more;
        // 09:00 is everyone's.
        assert!(!role.practice_at(4, "z", 0));
        assert!(role.practice_at(9, "z", 0));
    }
}
