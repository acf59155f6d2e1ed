//! What the engine does with each kind of record: update the subject's state, then ask
//! each detector that applies, in the fixed order of `Detector::ALL`.
//!
//! Never emits alerts itself (the caller decides whether they are silent) and never
//! builds an explanation for a subject that is suppressed.

use super::fxhash::FastMap;
use std::net::IpAddr;

use super::actions;
use super::address::AddressState;
use super::clock::{self, Local};
use super::dedup::{self, Dedup};
use super::metric::Metric;
use super::role::RoleState;
use super::user::UserState;
use super::Engine;
use crate::classify::reload;
use crate::detect::{burst, dormant, first_access, new_source, off_hours, privilege, spray, Draft};
use crate::observation::{Kind, Observation};
use crate::settings::span::DAY;
use crate::settings::{Detector, Tuning};

/// Most recent failed-login sources kept per user.
const FAIL_SOURCES: usize = 8;

/// The user's state, created on first sight (keeping a departed user's last activity)
/// and moved to today's local day (pooling the closed day into the user's roles).
fn touch_user<'a>(
    users: &'a mut FastMap<Box<str>, UserState>,
    roles: &mut FastMap<Box<str>, RoleState>,
    departed: &mut FastMap<Box<str>, i64>,
    name: &str,
    now: i64,
    day: i64,
    keep_days: i64,
) -> Option<&'a mut UserState> {
    if !users.contains_key(name) {
        let mut u = UserState::new(now, day);
        u.last_active = departed.remove(name).unwrap_or(0);
        users.insert(name.into(), u);
    }
    let u = users.get_mut(name)?;
    if u.today.day == day {
        return Some(u);
    }
    if let Some(closed) = u.roll_day(day, keep_days) {
        for r in &u.roles {
            if let Some(role) = roles.get_mut(r) {
                role.add_day(name, &closed);
            }
        }
    }
    Some(u)
}

fn address(map: &mut FastMap<IpAddr, AddressState>, ip: IpAddr) -> &mut AddressState {
    map.entry(ip).or_default()
}

fn role<'a>(map: &'a mut FastMap<Box<str>, RoleState>, name: &str) -> Option<&'a mut RoleState> {
    if !map.contains_key(name) {
        map.insert(name.into(), RoleState::default());
    }
    map.get_mut(name)
}

/// Run `check` unless the detector is off or `key` is suppressed; keep what it drafts.
pub(super) fn ask(
    tuning: &Tuning,
    dedup: &mut Dedup,
    out: &mut Vec<Draft>,
    d: Detector,
    key: u64,
    now: i64,
    check: impl FnOnce() -> Option<Draft>,
) {
    let t = tuning.detector(d);
    if !t.on || dedup.active(key, now) {
        return;
    }
    if let Some(mut draft) = check() {
        dedup.mark(key, now + t.suppress.nanos());
        draft.subject = key;
        out.push(draft);
    }
}

impl Engine {
    pub(super) fn handle(&mut self, o: &Observation<'_>, out: &mut Vec<Draft>) {
        match o.kind {
            Kind::AuthFailed => self.auth_failed(o, out),
            Kind::Authenticated | Kind::ActionDecided | Kind::ActionCompleted => {
                self.activity(o, out)
            }
            Kind::Reloaded => self.reloaded(o, out),
            Kind::Other => {}
        }
    }

    fn local(&self) -> Local {
        clock::local(self.now, self.tuning.utc_offset)
    }

    fn auth_failed(&mut self, o: &Observation<'_>, out: &mut Vec<Draft>) {
        let now = self.now;
        let local = self.local();
        let name = o.user().unwrap_or("");
        let keep_days = self.tuning.baseline.nanos() / DAY;
        let min_history = self.tuning.min_history.nanos();
        let t = *self.tuning.detector(Detector::FailedLoginBurst);
        let Engine {
            users,
            roles,
            departed,
            addresses,
            dedup,
            tuning,
            ..
        } = self;
        let tuning: &Tuning = tuning;
        if !name.is_empty() {
            if let Some(u) = touch_user(users, roles, departed, name, now, local.day, keep_days) {
                u.last_record = now;
                if let Some(ip) = o.ip {
                    if u.fail_sources.len() == FAIL_SOURCES {
                        u.fail_sources.pop_front();
                    }
                    u.fail_sources.push_back((now, ip));
                }
                let count = u.count_event(Metric::Fails, now, o.seq, t.window.nanos());
                let key = dedup::key(Detector::FailedLoginBurst, &[name]);
                let trusted = u.trusted(now, min_history);
                ask(
                    tuning,
                    dedup,
                    out,
                    Detector::FailedLoginBurst,
                    key,
                    now,
                    || burst::check(&t, name, u, count, trusted, now),
                );
            }
        }
        let Some(ip) = o.ip else {
            return;
        };
        let a = address(addresses, ip);
        a.fail(if name.is_empty() { "?" } else { name }, now, o.seq);
        let ts = tuning.detector(Detector::PasswordSpray);
        let since = now - ts.window.nanos();
        let distinct = a.failed.values().filter(|t| **t >= since).count();
        if (distinct as f64) < ts.threshold {
            return;
        }
        let key = dedup::key(Detector::PasswordSpray, &[&ip.to_string()]);
        let ts = *ts;
        ask(
            tuning,
            dedup,
            out,
            Detector::PasswordSpray,
            key,
            now,
            || spray::check(&ts, ip, a, now),
        );
    }

    fn reloaded(&mut self, o: &Observation<'_>, out: &mut Vec<Draft>) {
        let Some(detail) = o.detail.as_deref() else {
            return;
        };
        let by = o.user();
        for c in reload::changes(detail) {
            let who = c.user.as_deref().unwrap_or("");
            let key = dedup::key(Detector::PrivilegeChange, &["reload", who, &c.what]);
            ask(
                &self.tuning,
                &mut self.dedup,
                out,
                Detector::PrivilegeChange,
                key,
                self.now,
                || Some(privilege::reload(c.user.as_deref(), &c.what, by, o.seq)),
            );
        }
    }

    fn activity(&mut self, o: &Observation<'_>, out: &mut Vec<Draft>) {
        let Some(name) = o.user() else {
            return;
        };
        let now = self.now;
        let local = self.local();
        let warm = self.warm();
        let warm_at = self.warm_at();
        let keep_days = self.tuning.baseline.nanos() / DAY;
        let min_history = self.tuning.min_history.nanos();
        let since = now - self.tuning.baseline.nanos();
        let Engine {
            users,
            roles,
            departed,
            addresses,
            dedup,
            tuning,
            ..
        } = self;
        let tuning: &Tuning = tuning;
        let Some(u) = touch_user(users, roles, departed, name, now, local.day, keep_days) else {
            return;
        };
        u.last_record = now;
        if !o.roles.is_empty()
            && (u.roles.len() != o.roles.len()
                || u.roles.iter().zip(&o.roles).any(|(a, b)| **a != **b))
        {
            u.roles = o.roles.iter().map(|r| Box::<str>::from(&**r)).collect();
        }
        let trusted = u.trusted(now, min_history);
        // Seen while the engine learned (a replay's first days, a fresh deployment) but
        // not trusted yet, because the user's whole days started later than the
        // engine's: not a newcomer, so not judged against the newcomer fallbacks (the
        // configured working hours, the bare floor of rapid-repetition) — only against
        // a trusted role, until their own baseline is trusted.
        let learning = !trusted && u.first_seen < warm_at;
        let habits = u.knows_habits(now, min_history);
        let target = o.target();
        let login_like = matches!(o.kind, Kind::Authenticated | Kind::ActionDecided);
        let at = (o.ip, target);

        let dormancy = tuning.detector(Detector::DormantAccount).window.nanos();
        if login_like && u.last_active != 0 && now - u.last_active >= dormancy {
            let key = dedup::key(Detector::DormantAccount, &[name]);
            let t = tuning.detector(Detector::DormantAccount);
            let last = u.last_active;
            ask(
                tuning,
                dedup,
                out,
                Detector::DormantAccount,
                key,
                now,
                || dormant::check(t, name, last, now, o.ip, target, o.seq),
            );
        }
        if let Some(ip) = o.ip {
            let fresh = u.addresses.get(&ip).is_none_or(|t| *t < since);
            if login_like && warm && habits && fresh {
                let key = dedup::key(Detector::NewSource, &[name, &ip.to_string()]);
                let others = addresses
                    .get(&ip)
                    .map_or(0, |a| a.regulars_since(name, since).count());
                let network_users = network_users(addresses, ip, name, since);
                let seen = new_source::Seen {
                    user: u,
                    others,
                    network_users,
                    since,
                };
                ask(tuning, dedup, out, Detector::NewSource, key, now, || {
                    new_source::check(name, ip, seen, target, o.seq)
                });
            }
            u.use_address(ip, now);
            address(addresses, ip).succeed(name, now);
        }
        // This use of the target was reported as a first access: it does not make the
        // target usual for the user's roles (`RoleState::peers_on`).
        let mut news = false;
        if let Some(tg) = target {
            let fresh = u.targets.get(tg).is_none_or(|t| *t < since);
            if login_like && warm && habits && fresh {
                let key = dedup::key(Detector::FirstAccess, &[name, tg]);
                let t = tuning.detector(Detector::FirstAccess);
                let (peers, needed, role_names) =
                    role_peers(roles, &u.roles, tg, name, since, t.threshold);
                let c = first_access::Context {
                    name,
                    target: tg,
                    ip: o.ip,
                    seq: o.seq,
                    usual_targets: u.targets.values().filter(|t| **t >= since).count(),
                    peers,
                    peers_needed: needed,
                    roles: role_names,
                    baseline: tuning.baseline.to_string(),
                };
                let before = out.len();
                ask(tuning, dedup, out, Detector::FirstAccess, key, now, || {
                    first_access::check(c)
                });
                news = out.len() > before;
            }
            u.use_target(tg, now);
        }
        let quiet = now - u.last_active >= tuning.detector(Detector::OffHours).window.nanos();
        if login_like && warm && quiet {
            let key = dedup::key(Detector::OffHours, &[name]);
            let t = tuning.detector(Detector::OffHours);
            let mut trusted_roles = u
                .roles
                .iter()
                .filter_map(|r| roles.get(r).filter(|s| s.trusted()).map(|s| (r, s)));
            // Never news when it is a practice of one of their roles (an on-call
            // rota), whatever the user's own history.
            let rota = u.roles.iter().any(|r| {
                roles
                    .get(r)
                    .is_some_and(|s| s.practice_at(local.hour, name, tuning.deep_night_hours()))
            });
            let basis = if rota {
                None
            } else if trusted {
                // Rare for the user. In their own night that is news whatever their
                // roles' hours (another shift of the role works then; only the role's
                // starts, above, excuse it); nearer their day (an evening back after a
                // break) the hour must be rare for each of their roles too.
                let night = off_hours::own_night(&u.cached.hour_days, u.cached.active_days)
                    & (1 << local.hour)
                    != 0;
                let usual_for_role = !night
                    && u.roles.iter().any(|r| {
                        roles.get(r).is_some_and(|s| {
                            s.trusted()
                                && off_hours::usual_for_role(
                                    &s.cached.hour_days,
                                    s.cached.member_days,
                                    local.hour,
                                    t.threshold,
                                )
                        })
                    });
                (!usual_for_role).then_some(off_hours::Basis::User {
                    hour_days: &u.cached.hour_days,
                    days: u.cached.active_days,
                })
            } else if let Some((r, s)) = trusted_roles.next() {
                Some(off_hours::Basis::Role {
                    role: r,
                    hour_days: &s.cached.hour_days,
                    days: s.cached.member_days,
                })
            } else if learning {
                None
            } else {
                Some(off_hours::Basis::WorkingHours)
            };
            if let Some(basis) = basis {
                let c = off_hours::Context {
                    name,
                    local,
                    ip: o.ip,
                    target,
                    seq: o.seq,
                };
                ask(tuning, dedup, out, Detector::OffHours, key, now, || {
                    off_hours::check(t, tuning, basis, c)
                });
            }
        }
        if let Some(what) = o.privilege.as_deref() {
            let key = dedup::key(
                Detector::PrivilegeChange,
                &[name, target.unwrap_or(""), what],
            );
            let c = privilege::Context {
                name,
                what,
                decision: o.decision,
                target,
                ip: o.ip,
                excerpt: o.raw.as_deref().map(|r| excerpt(r, 160)),
                seq: o.seq,
            };
            ask(
                tuning,
                dedup,
                out,
                Detector::PrivilegeChange,
                key,
                now,
                || Some(privilege::action(c)),
            );
        }
        u.today.hours |= 1 << local.hour;
        if quiet {
            u.today.starts |= 1 << local.hour;
        }
        u.last_active = now;
        for r in &u.roles {
            if let Some(role) = role(roles, r) {
                role.touch(name, now);
                if let Some(tg) = target {
                    role.use_target(tg, name, now, news);
                }
            }
        }
        let roles_view: &FastMap<Box<str>, RoleState> = roles;
        let role_q90 = u.roles.iter().find_map(|r| {
            roles_view
                .get_key_value(r)
                .filter(|(_, s)| s.trusted())
                .map(|(r, s)| (&**r, s.cached.q90))
        });
        let cx = actions::ActionCx {
            name,
            trusted,
            learning,
            warm,
            at,
            role_q90,
        };
        match o.kind {
            Kind::ActionDecided => {
                actions::decided(tuning, dedup, u, o, &cx, now, out);
                if o.outcome {
                    actions::completed(tuning, dedup, u, o, &cx, now, out);
                }
            }
            Kind::ActionCompleted => actions::completed(tuning, dedup, u, o, &cx, now, out),
            _ => {}
        }
    }
}

/// Users other than `user` who regularly use `ip`'s network: active from any of its
/// addresses on days at least a day apart (rare: only asked for an address new to the
/// user).
fn network_users(
    addresses: &FastMap<IpAddr, AddressState>,
    ip: IpAddr,
    user: &str,
    since: i64,
) -> usize {
    let mut spans: Vec<(&str, i64, i64)> = addresses
        .iter()
        .filter(|(a, _)| new_source::same_network(**a, ip))
        .flat_map(|(_, s)| {
            s.users
                .iter()
                .filter(|(u, (_, last))| &***u != user && *last >= since)
                .map(|(u, (first, last))| (&**u, *first, *last))
        })
        .collect();
    spans.sort_unstable();
    let mut regulars = 0;
    let mut i = 0;
    while i < spans.len() {
        let name = spans[i].0;
        let (mut first, mut last) = (spans[i].1, spans[i].2);
        while i < spans.len() && spans[i].0 == name {
            first = first.min(spans[i].1);
            last = last.max(spans[i].2);
            i += 1;
        }
        if last - first >= DAY {
            regulars += 1;
        }
    }
    regulars
}

/// Peers of `user` on `target` in the user's roles: (best peers count, peers needed
/// there — `threshold` of the role's other members, at least one — role names).
fn role_peers(
    roles: &FastMap<Box<str>, RoleState>,
    user_roles: &[Box<str>],
    target: &str,
    user: &str,
    since: i64,
    threshold: f64,
) -> (usize, usize, String) {
    let mut best = (0usize, 1usize);
    for r in user_roles {
        let Some(role) = roles.get(r) else { continue };
        let others = role
            .members
            .iter()
            .filter(|(m, t)| &***m != user && **t >= since)
            .count();
        let needed = ((threshold * others as f64).ceil() as usize).max(1);
        let peers = role.peers_on(target, user, since);
        if peers >= needed || peers > best.0 {
            best = (peers, needed);
        }
        if peers >= needed {
            break;
        }
    }
    let names: Vec<&str> = user_roles.iter().map(|r| &**r).collect();
    (best.0, best.1, names.join(", "))
}

/// The first `max` characters of `raw` on one line.
fn excerpt(raw: &str, max: usize) -> String {
    let one_line: String = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut s: String = one_line.chars().take(max).collect();
    s.push('…');
    s
}
