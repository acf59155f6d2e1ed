//! Answering a [`Filter`] from the aggregates: one pass over each table, keeping the
//! counters whose bucket and dimensions match.
//!
//! Cost is linear in the number of counters held (bounded, see the module docs of
//! `insights`), never in the number of records. Never changes the aggregates.

use std::collections::BTreeMap;

use super::facts::Feature;
use super::report::{
    ActivityPoint, ApprovalReport, AuthRow, Choices, ErrorClassRow, Filter, FilterError, Grid,
    Named, Report, Step, UsageList,
};
use super::tables::{
    Dims, Insights, APPROVED, DENIED, EXPIRED, LOGIN_FAILED, LOGIN_LOCKED, LOGIN_OK, NO_REASON,
    PROTOCOLS, WITHDRAWN,
};
use crate::engine::clock;

/// The filter resolved to ids and local buckets.
struct Matcher {
    /// A named user, role or target the aggregates never saw: nothing matches.
    nothing: bool,
    user: Option<u32>,
    /// Role-set ids holding the role, when a role is asked for.
    role_sets: Option<Vec<bool>>,
    target: Option<u32>,
    protocol: Option<u8>,
    /// Local hours [from, to).
    from: u32,
    to: u32,
}

impl Matcher {
    fn dims(&self, d: &Dims) -> bool {
        !self.nothing
            && self.user.is_none_or(|u| u == d.user)
            && self.target.is_none_or(|t| t == d.target)
            && self.protocol.is_none_or(|p| p == d.protocol)
            && self
                .role_sets
                .as_ref()
                .is_none_or(|s| s.get(d.roles as usize).copied().unwrap_or(false))
    }

    fn hour(&self, h: u32) -> bool {
        h >= self.from && h < self.to
    }

    /// A day bucket overlaps the range.
    fn day(&self, d: u32) -> bool {
        d * 24 + 24 > self.from && d * 24 < self.to
    }
}

fn top(map: BTreeMap<String, u64>, n: usize) -> Vec<Named> {
    let mut v: Vec<Named> = map
        .into_iter()
        .filter(|(_, c)| *c > 0)
        .map(|(name, count)| Named { name, count })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    v.truncate(n);
    v
}

fn usage_list(feature: &str, map: BTreeMap<String, u64>) -> UsageList {
    let mut all = top(map, usize::MAX);
    let names = all.len();
    let total = all.iter().map(|n| n.count).sum();
    let top_n = names.min(Report::TOP);
    let rest = all.split_off(top_n);
    let mut bottom: Vec<Named> = rest.into_iter().rev().take(Report::BOTTOM).collect();
    bottom.sort_by(|a, b| a.count.cmp(&b.count).then_with(|| a.name.cmp(&b.name)));
    UsageList {
        feature: feature.to_string(),
        names,
        total,
        top: all,
        bottom,
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u32], p: u64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as u64).div_ceil(100).max(1) as usize;
    sorted.get(rank - 1).map(|v| u64::from(*v))
}

impl Insights {
    /// Every chart for `filter`.
    pub fn report(&self, filter: &Filter) -> Result<Report, FilterError> {
        filter.check()?;
        let m = self.matcher(filter);
        let span = i64::from(m.to) - i64::from(m.from);
        let hourly = match filter.step {
            Step::Hour => {
                if span > Filter::MAX_HOURS {
                    return Err(FilterError::TooManyHours {
                        asked: span,
                        max: Filter::MAX_HOURS,
                    });
                }
                true
            }
            Step::Day => false,
            Step::Auto => span <= Filter::AUTO_HOURS_UP_TO,
        };
        let (activity, totals, heatmap, role_heatmaps, user_heatmaps, targets) =
            self.activity(&m, hourly);
        let mut usage = vec![usage_list("target", targets)];
        usage.extend(self.usage(&m));
        Ok(Report {
            filter: filter.clone(),
            utc_offset: self.offset,
            step: if hourly { "hour" } else { "day" },
            activity,
            totals,
            heatmap,
            role_heatmaps,
            user_heatmaps,
            usage,
            errors: self.errors_report(&m),
            auth: self.auth(&m),
            approvals: self.approvals(&m),
            choices: self.choices(),
            records: self.records,
        })
    }

    fn matcher(&self, f: &Filter) -> Matcher {
        let mut nothing = false;
        let mut find = |names: &super::intern::Names, asked: &Option<String>| {
            let asked = asked.as_deref()?;
            let id = names.find(asked);
            nothing |= id.is_none();
            id
        };
        let user = find(&self.users, &f.user);
        let target = find(&self.targets, &f.target);
        let role_sets = f.role.as_deref().map(|role| {
            let sets: Vec<bool> = self
                .set_roles
                .iter()
                .map(|roles| roles.iter().any(|r| r.as_ref() == role))
                .collect();
            nothing |= !sets.contains(&true);
            sets
        });
        let protocol = f
            .protocol
            .as_deref()
            .and_then(|p| PROTOCOLS.iter().position(|x| *x == p))
            .and_then(|p| u8::try_from(p).ok());
        let local = |secs: i64| {
            u32::try_from((secs + self.offset).div_euclid(3600).max(0)).unwrap_or(u32::MAX)
        };
        let first = if self.records == 0 {
            self.oldest_day * 24
        } else {
            self.first_hour
        };
        let from = f.since.map_or(first, local).max(self.oldest_day * 24);
        let newest = if self.records == 0 {
            from
        } else {
            self.newest_hour.saturating_add(1)
        };
        let to = f
            .until
            .map_or(newest, |u| local(u - 1).saturating_add(1))
            .min(newest)
            .max(from);
        Matcher {
            nothing,
            user,
            role_sets,
            target,
            protocol,
            from,
            to,
        }
    }

    #[allow(clippy::type_complexity)]
    fn activity(
        &self,
        m: &Matcher,
        hourly: bool,
    ) -> (
        Vec<ActivityPoint>,
        [u64; 3],
        Grid,
        Vec<Grid>,
        Vec<Grid>,
        BTreeMap<String, u64>,
    ) {
        let bucket = |h: u32| if hourly { h } else { h / 24 };
        let (first, last) = (bucket(m.from), bucket(m.to.saturating_sub(1)));
        let n = if m.to > m.from {
            (last - first + 1) as usize
        } else {
            0
        };
        let mut series = vec![[0u64; 3]; n];
        let mut grid = vec![0u64; 168];
        let mut by_role: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        let mut by_user: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
        let mut targets: BTreeMap<String, u64> = BTreeMap::new();
        for ((h, d), counts) in &self.activity {
            if !m.hour(*h) || !m.dims(d) {
                continue;
            }
            let sum: u64 = counts.iter().map(|c| u64::from(*c)).sum();
            if let Some(slot) = series.get_mut((bucket(*h) - first) as usize) {
                for (s, c) in slot.iter_mut().zip(counts) {
                    *s += u64::from(*c);
                }
            }
            let cell = clock::weekday(i64::from(h / 24)) * 24 + (h % 24) as usize;
            grid[cell] += sum;
            for role in self.set_roles.get(d.roles as usize).into_iter().flatten() {
                by_role.entry(&**role).or_insert_with(|| vec![0; 168])[cell] += sum;
            }
            by_user.entry(d.user).or_insert_with(|| vec![0; 168])[cell] += sum;
            *targets
                .entry(self.targets.name(d.target).to_string())
                .or_default() += sum;
        }
        let mut totals = [0u64; 3];
        let activity = series
            .iter()
            .enumerate()
            .map(|(i, c)| {
                for (t, v) in totals.iter_mut().zip(c) {
                    *t += v;
                }
                let b = first + i as u32;
                let (day, hour) = if hourly {
                    (b / 24, Some(b % 24))
                } else {
                    (b, None)
                };
                let label = match hour {
                    Some(h) => format!("{} {h:02}:00", clock::date(i64::from(day))),
                    None => clock::date(i64::from(day)),
                };
                let local_hour = if hourly { b } else { b * 24 };
                ActivityPoint {
                    start: i64::from(local_hour) * 3600 - self.offset,
                    label,
                    allow: c[0],
                    deny: c[1],
                    hold: c[2],
                }
            })
            .collect();
        let heatmap = Grid {
            name: "selection".into(),
            total: grid.iter().sum(),
            cells: grid,
        };
        let grids = |it: Vec<(String, Vec<u64>)>| {
            let mut v: Vec<Grid> = it
                .into_iter()
                .map(|(name, cells)| Grid {
                    name,
                    total: cells.iter().sum(),
                    cells,
                })
                .collect();
            v.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.name.cmp(&b.name)));
            v.truncate(Report::GRIDS);
            v
        };
        let roles = grids(
            by_role
                .into_iter()
                .map(|(r, c)| (r.to_string(), c))
                .collect(),
        );
        let users = grids(
            by_user
                .into_iter()
                .map(|(u, c)| (self.users.name(u).to_string(), c))
                .collect(),
        );
        (activity, totals, heatmap, roles, users, targets)
    }

    fn usage(&self, m: &Matcher) -> Vec<UsageList> {
        let mut per: Vec<BTreeMap<String, u64>> = vec![BTreeMap::new(); Feature::ALL.len()];
        for ((day, d, feature, name), count) in &self.usage {
            if !m.day(*day) || !m.dims(d) {
                continue;
            }
            if let Some(map) = per.get_mut(*feature as usize) {
                *map.entry(self.features.name(*name).to_string())
                    .or_default() += u64::from(*count);
            }
        }
        Feature::ALL
            .iter()
            .zip(per)
            .map(|(f, map)| usage_list(f.name(), map))
            .collect()
    }

    fn errors_report(&self, m: &Matcher) -> Vec<ErrorClassRow> {
        type Where = (u64, BTreeMap<String, u64>, BTreeMap<String, u64>);
        let mut classes: BTreeMap<u32, Where> = BTreeMap::new();
        for ((day, d, class), count) in &self.failures {
            if !m.day(*day) || !m.dims(d) {
                continue;
            }
            let c = u64::from(*count);
            let e = classes.entry(*class).or_default();
            e.0 += c;
            *e.1.entry(self.targets.name(d.target).to_string())
                .or_default() += c;
            *e.2.entry(self.users.name(d.user).to_string()).or_default() += c;
        }
        let mut rows: Vec<ErrorClassRow> = classes
            .into_iter()
            .map(|(class, (count, targets, users))| ErrorClassRow {
                class: self.errors.name(class).to_string(),
                count,
                targets: top(targets, usize::MAX),
                users: top(users, Report::TOP),
            })
            .collect();
        rows.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.class.cmp(&b.class)));
        rows
    }

    fn auth(&self, m: &Matcher) -> Vec<AuthRow> {
        type Row = ([u64; 3], BTreeMap<String, u64>);
        let mut rows: BTreeMap<(u8, u32), Row> = BTreeMap::new();
        for ((day, d, method, reason, outcome), count) in &self.logins {
            if !m.day(*day) || !m.dims(d) {
                continue;
            }
            let slot = match *outcome {
                LOGIN_OK => 0,
                LOGIN_FAILED => 1,
                LOGIN_LOCKED => 2,
                _ => continue,
            };
            let row = rows.entry((d.protocol, *method)).or_default();
            row.0[slot] += u64::from(*count);
            if *reason != NO_REASON {
                *row.1
                    .entry(self.methods.name(*reason).to_string())
                    .or_default() += u64::from(*count);
            }
        }
        rows.into_iter()
            .map(|((p, method), (c, reasons))| AuthRow {
                front_end: PROTOCOLS
                    .get(p as usize)
                    .copied()
                    .unwrap_or("(none)")
                    .to_string(),
                method: self.methods.name(method).to_string(),
                successes: c[0],
                failures: c[1],
                lockouts: c[2],
                reasons: top(reasons, usize::MAX),
            })
            .collect()
    }

    fn approvals(&self, m: &Matcher) -> ApprovalReport {
        let mut r = ApprovalReport::default();
        for ((day, d), count) in &self.requests {
            if m.day(*day) && m.dims(d) {
                r.requests += u64::from(*count);
            }
        }
        let mut deciders: BTreeMap<String, u64> = BTreeMap::new();
        for ((day, d, by, outcome), count) in &self.decisions {
            if !m.day(*day) || !m.dims(d) {
                continue;
            }
            let c = u64::from(*count);
            match *outcome {
                APPROVED => r.approvals += c,
                DENIED => r.denied += c,
                EXPIRED => r.expired += c,
                WITHDRAWN => r.withdrawn += c,
                _ => {}
            }
            if matches!(*outcome, APPROVED | DENIED) {
                *deciders
                    .entry(self.users.name(*by).to_string())
                    .or_default() += c;
            }
        }
        r.deciders = top(deciders, Report::TOP);
        let mut waits: Vec<u32> = self
            .waits
            .iter()
            .filter(|w| m.day(w.day) && m.dims(&w.dims))
            .map(|w| w.seconds)
            .collect();
        waits.sort_unstable();
        r.decided = waits.len() as u64;
        r.median_seconds = percentile(&waits, 50);
        r.p90_seconds = percentile(&waits, 90);
        r
    }

    fn choices(&self) -> Choices {
        let names = |n: &super::intern::Names, skip: &[&str]| {
            let mut v: Vec<String> = n
                .iter()
                .skip(1)
                .map(|(_, s)| s.to_string())
                .filter(|s| !skip.contains(&s.as_str()))
                .collect();
            v.sort();
            v
        };
        let mut roles: Vec<String> = self
            .set_roles
            .iter()
            .flatten()
            .map(|r| r.to_string())
            .collect();
        roles.sort();
        roles.dedup();
        Choices {
            users: names(&self.users, &["(nobody)", "(unknown)"]),
            roles,
            targets: names(&self.targets, &["(none)"]),
            protocols: PROTOCOLS[1..].iter().map(|p| p.to_string()).collect(),
        }
    }
}
