//! One user's state: sliding windows, today's running summary, a ring of past days'
//! summaries (the baseline) and the statistics cached from it once a day.
//!
//! Memory is bounded by the baseline's days, the user's targets and addresses (both
//! forgotten after the baseline window, and capped) and a capped table of repeated
//! actions; never by the number of records.

use super::fxhash::FastMap;
use std::collections::VecDeque;
use std::net::IpAddr;

use super::metric::{Metric, METRICS};
use crate::settings::span::DAY;
use crate::stats::evidence::Evidence;
use crate::stats::rate::Rate;
use crate::stats::robust::{mad, median, quantile};

/// Most targets and addresses remembered per user (least recently used go first).
pub const MAX_PER_USER: usize = 256;
/// Most distinct repeated actions tracked per user.
pub const MAX_REPEATS: usize = 32;

/// One past day of a user's activity.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DaySummary {
    pub day: i64,
    /// Highest sliding-window value of each metric that day.
    pub peaks: [f64; METRICS],
    pub errors: u64,
    pub completed: u64,
    /// Actions decided that day (the console's volume trend).
    pub actions: u64,
    /// Bit h set: active (a login or an action) during local hour h.
    pub hours: u32,
    /// Bit h set: started being active during local hour h after a quiet spell.
    pub starts: u32,
}

/// Statistics of the baseline days, recomputed when a day ends.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cached {
    /// Days in the baseline with a login or an action.
    pub active_days: u32,
    pub median: [f64; METRICS],
    pub mad: [f64; METRICS],
    pub q90: [f64; METRICS],
    pub max: [f64; METRICS],
    /// Failed share of completed actions over the baseline.
    pub error_share: f64,
    /// Active days with activity in each local hour.
    pub hour_days: [u32; 24],
}

/// A repeated normalised action.
#[derive(Debug, Clone, Default)]
pub struct Repeat {
    pub fingerprint: u64,
    pub rate: Rate,
    pub last: i64,
    pub evidence: Evidence,
}

/// Everything known about one user.
#[derive(Debug, Clone, Default)]
pub struct UserState {
    pub first_seen: i64,
    pub last_record: i64,
    /// Last successful login or action (0: none yet).
    pub last_active: i64,
    pub roles: Vec<Box<str>>,
    /// Target -> last use.
    pub targets: FastMap<Box<str>, i64>,
    /// Target -> actions decided on it while it is in `targets` (the console shows it;
    /// no detector reads it). Same keys as `targets`, so bounded the same way.
    pub target_uses: FastMap<Box<str>, u64>,
    /// Address -> last successful use.
    pub addresses: FastMap<IpAddr, i64>,
    pub rates: [Rate; METRICS],
    /// Evidence for failed logins, denials, errors and volume.
    pub fails: Evidence,
    pub denials: Evidence,
    pub errors: Evidence,
    pub volume: Evidence,
    /// Recent failed-login sources (for explanations).
    pub fail_sources: VecDeque<(i64, IpAddr)>,
    pub repeats: Vec<Repeat>,
    pub today: DaySummary,
    pub days: VecDeque<DaySummary>,
    pub cached: Cached,
    /// Active days ever closed for this user (saturating; the baseline ring forgets,
    /// this does not): how settled their habits are.
    pub days_seen: u32,
}

impl UserState {
    pub fn new(now: i64, day: i64) -> UserState {
        UserState {
            first_seen: now,
            last_record: now,
            today: DaySummary {
                day,
                ..DaySummary::default()
            },
            ..UserState::default()
        }
    }

    /// Move to local `day`: close today's summary into the baseline ring (when anything
    /// happened), drop days older than `keep_days`, refresh the cached statistics.
    /// Returns the closed day when it joined the baseline.
    pub fn roll_day(&mut self, day: i64, keep_days: i64) -> Option<DaySummary> {
        if day <= self.today.day {
            return None;
        }
        let closed = std::mem::replace(
            &mut self.today,
            DaySummary {
                day,
                ..DaySummary::default()
            },
        );
        let kept = closed.hours != 0 || closed.peaks.iter().any(|p| *p > 0.0);
        if closed.hours != 0 {
            self.days_seen = self.days_seen.saturating_add(1);
        }
        if kept {
            self.days.push_back(closed);
        }
        while self.days.front().is_some_and(|d| d.day <= day - keep_days) {
            self.days.pop_front();
        }
        self.cached = summarise(&self.days);
        kept.then_some(closed)
    }

    /// Count one event of `metric` with evidence `seq`; returns the window's count
    /// (exact while the evidence ring holds the whole window).
    pub fn count_event(&mut self, metric: Metric, now: i64, seq: u64, window: i64) -> f64 {
        let approx = self.count(metric, now, 1.0, window);
        let e = match metric {
            Metric::Fails => &mut self.fails,
            Metric::Denials => &mut self.denials,
            Metric::Errors => &mut self.errors,
            _ => &mut self.volume,
        };
        e.push(now, seq);
        let exact = e.count_since(now - window).map_or(approx, |n| n as f64);
        self.peak(metric, exact);
        exact
    }

    /// Add `v` to `metric` at `now`; returns the window's new value.
    pub fn count(&mut self, metric: Metric, now: i64, v: f64, window: i64) -> f64 {
        let r = &mut self.rates[metric.index()];
        r.add(now, v, window);
        let value = r.value(now, window);
        self.peak(metric, value);
        value
    }

    /// Raise today's peak of `metric` to `value`.
    pub fn peak(&mut self, metric: Metric, value: f64) {
        let p = &mut self.today.peaks[metric.index()];
        if value > *p {
            *p = value;
        }
    }

    /// Whether the baseline has enough history to be trusted: `min_history` of calendar
    /// days since the user was first seen (counted in whole local days, so a daily job
    /// is trusted on its eighth run whatever the minute), and at least 3 active days.
    pub fn trusted(&self, now: i64, min_history: i64) -> bool {
        let first_day = self.first_seen.div_euclid(DAY);
        let today = now.div_euclid(DAY);
        today - first_day >= min_history.div_euclid(DAY).max(1) && self.cached.active_days >= 3
    }

    /// Trusted for the sets a user draws on (targets, addresses), which take longer to
    /// settle than hours and volumes: twice `min_history`, and at least 5 active days
    /// since first seen (the sets keep what was used within the baseline window,
    /// whatever the ring of days holds: a user back from a three-week leave, with 3
    /// active days left in the window, still has settled habits), 3 of them in the
    /// baseline window (`trusted`).
    pub fn knows_habits(&self, now: i64, min_history: i64) -> bool {
        self.trusted(now, 2 * min_history) && self.days_seen >= 5
    }

    /// Remember `target` used at `now` (capped: the least recently used goes).
    pub fn use_target(&mut self, target: &str, now: i64) {
        if let Some(t) = self.targets.get_mut(target) {
            *t = now;
            return;
        }
        if evict_oldest(&mut self.targets) {
            let targets = &self.targets;
            self.target_uses.retain(|k, _| targets.contains_key(k));
        }
        self.targets.insert(target.into(), now);
        self.target_uses.insert(target.into(), 0);
    }

    pub fn use_address(&mut self, ip: IpAddr, now: i64) {
        if let Some(t) = self.addresses.get_mut(&ip) {
            *t = now;
            return;
        }
        let _ = evict_oldest(&mut self.addresses);
        self.addresses.insert(ip, now);
    }

    /// The repeat entry for `fingerprint` (created, evicting the stalest, when new).
    pub fn repeat(&mut self, fingerprint: u64, now: i64) -> &mut Repeat {
        let at = match self
            .repeats
            .iter()
            .position(|r| r.fingerprint == fingerprint)
        {
            Some(i) => i,
            None => {
                let fresh = Repeat {
                    fingerprint,
                    last: now,
                    ..Repeat::default()
                };
                if self.repeats.len() < MAX_REPEATS {
                    self.repeats.push(fresh);
                    self.repeats.len() - 1
                } else {
                    let (i, _) = self
                        .repeats
                        .iter()
                        .enumerate()
                        .min_by_key(|(i, r)| (r.last, *i))
                        .unwrap_or((0, &self.repeats[0]));
                    self.repeats[i] = fresh;
                    i
                }
            }
        };
        let r = &mut self.repeats[at];
        r.last = now;
        r
    }

    /// The evidence of the repeated action `fingerprint` no older than `since`.
    pub fn repeat_evidence(&self, fingerprint: u64, since: i64) -> Vec<u64> {
        self.repeats
            .iter()
            .find(|r| r.fingerprint == fingerprint)
            .map_or_else(Vec::new, |r| r.evidence.since(since))
    }

    /// Forget targets and addresses not used since `since`, and idle repeats.
    pub fn forget_before(&mut self, since: i64, repeat_since: i64) {
        self.targets.retain(|_, t| *t >= since);
        let targets = &self.targets;
        self.target_uses.retain(|k, _| targets.contains_key(k));
        self.addresses.retain(|_, t| *t >= since);
        self.repeats.retain(|r| r.last >= repeat_since);
        for e in [
            &mut self.fails,
            &mut self.denials,
            &mut self.errors,
            &mut self.volume,
        ] {
            e.prune(repeat_since);
        }
        for r in &mut self.repeats {
            r.evidence.prune(repeat_since);
        }
    }
}

/// Make room for one more entry; true when an entry went.
fn evict_oldest<K: Clone + Ord + std::hash::Hash + Eq>(map: &mut FastMap<K, i64>) -> bool {
    if map.len() < MAX_PER_USER {
        return false;
    }
    // Deterministic: oldest use first, then the smallest key.
    if let Some(k) = map
        .iter()
        .min_by(|a, b| a.1.cmp(b.1).then_with(|| a.0.cmp(b.0)))
        .map(|(k, _)| k.clone())
    {
        map.remove(&k);
        return true;
    }
    false
}

/// Robust statistics of the baseline days.
pub fn summarise(days: &VecDeque<DaySummary>) -> Cached {
    let mut c = Cached::default();
    let active: Vec<&DaySummary> = days.iter().filter(|d| d.hours != 0).collect();
    c.active_days = u32::try_from(active.len()).unwrap_or(u32::MAX);
    for m in Metric::ALL {
        let v: Vec<f64> = active.iter().map(|d| d.peaks[m.index()]).collect();
        c.median[m.index()] = median(&v);
        c.mad[m.index()] = mad(&v);
        c.q90[m.index()] = quantile(&v, 0.9);
        c.max[m.index()] = quantile(&v, 1.0);
    }
    let (errors, completed) = days
        .iter()
        .fold((0u64, 0u64), |(e, n), d| (e + d.errors, n + d.completed));
    c.error_share = if completed == 0 {
        0.0
    } else {
        errors as f64 / completed as f64
    };
    for d in &active {
        for (h, n) in c.hour_days.iter_mut().enumerate() {
            if d.hours & (1 << h) != 0 {
                *n += 1;
            }
        }
    }
    c
}

/// Weighted share of `days` active days with activity within 2 hours of `hour`
/// (weights 1, 1/2, 1/4 by distance).
pub fn hour_share(hour_days: &[u32; 24], days: u32, hour: usize) -> f64 {
    if days == 0 {
        return 0.0;
    }
    let mut s = 0.0;
    for (d, w) in [(-2i64, 0.25), (-1, 0.5), (0, 1.0), (1, 0.5), (2, 0.25)] {
        let h = usize::try_from((hour as i64 + d).rem_euclid(24)).unwrap_or(0);
        s += w * f64::from(hour_days[h]);
    }
    s / f64::from(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_roll_builds_the_baseline_and_forgets_old_days() {
        let mut u = UserState::new(0, 0);
        for day in 0..40 {
            u.roll_day(day, 28);
            u.today.hours |= 1 << 10;
            u.peak(Metric::Actions, 10.0 + (day % 3) as f64);
        }
        u.roll_day(40, 28);
        assert_eq!(u.days.len(), 27);
        assert_eq!(u.cached.active_days, 27);
        assert_eq!(u.cached.median[Metric::Actions.index()], 11.0);
        assert_eq!(u.cached.hour_days[10], 27);
        assert!(hour_share(&u.cached.hour_days, 27, 10) > 0.9);
        assert!(hour_share(&u.cached.hour_days, 27, 12) > 0.2);
        assert_eq!(hour_share(&u.cached.hour_days, 27, 3), 0.0);
    }

    #[test]
    fn habits_stay_known_after_a_long_leave() {
        const D: i64 = DAY;
        let mut u = UserState::new(0, 0);
        // Active on days 0..=20, then on leave until day 42.
        for day in 0..=20 {
            u.roll_day(day, 28);
            u.today.hours |= 1 << 10;
        }
        u.roll_day(42, 28);
        // Three active days (18, 19, 20) left in the 28-day ring.
        assert_eq!(u.cached.active_days, 6);
        u.roll_day(46, 28);
        assert_eq!(u.cached.active_days, 2);
        assert!(!u.knows_habits(46 * D, 7 * D));
        let mut back = UserState::new(0, 0);
        for day in 0..=20 {
            back.roll_day(day, 28);
            back.today.hours |= 1 << 10;
        }
        back.roll_day(45, 28);
        assert_eq!(back.cached.active_days, 3);
        assert_eq!(back.days_seen, 21);
        // Used to need 5 active days in the ring.
        assert!(back.knows_habits(45 * D, 7 * D));
        // A newcomer with 4 active days does not.
        let mut new = UserState::new(0, 0);
        for day in 0..4 {
            new.roll_day(day, 28);
            new.today.hours |= 1 << 10;
        }
        new.roll_day(20, 28);
        assert_eq!(new.cached.active_days, 4);
        assert!(!new.knows_habits(20 * D, 7 * D));
    }

    #[test]
    fn targets_and_repeats_are_capped() {
        let mut u = UserState::new(0, 0);
        for i in 0..(MAX_PER_USER as i64 + 50) {
            u.use_target(&format!("t{i}"), i);
        }
        assert_eq!(u.targets.len(), MAX_PER_USER);
        assert!(!u.targets.contains_key("t0"));
        assert_eq!(u.target_uses.len(), MAX_PER_USER);
        assert!(!u.target_uses.contains_key("t0"));
        for i in 0..100u64 {
            u.repeat(i + 1, i as i64);
        }
        assert_eq!(u.repeats.len(), MAX_REPEATS);
    }
}
