//! `off-hours`: activity at an hour that is rare for this user.
//!
//! Judged when a user starts being active after a quiet `window` (default 2h), so a
//! working day that runs late is not news. With a trusted baseline: the weighted share
//! of the user's active days with activity within 2 hours of this hour (weights 1, 1/2,
//! 1/4) is below the threshold (default 0.02) — with up to 25 active days, one earlier
//! day active within an hour makes an hour usual. In the user's own night ([`own_night`]:
//! 4 hours clear of their working day) that is news whatever their roles' hours — a
//! role's other shift working then is no excuse; nearer their day (an evening back after
//! a break) the hour must be rare for each of the user's roles too ([`usual_for_role`]:
//! the same share of member-days, and at least 2 of them — one member's single night, an
//! intruder's included, is not the role's habit). Never when the role's starts make it
//! a practice (members starting near the hour, or an on-call rota:
//! `RoleState::practice_at`), trusted baseline or not. Without a trusted baseline: the
//! role's pooled hours, else the configured working hours.
//!
//! Never judges from the role's hours alone in a trusted user's own night.

use std::net::IpAddr;

use super::{pct, Draft};
use crate::engine::clock::Local;
use crate::engine::role::{clear_of, working_day_hours};
use crate::engine::user::hour_share;
use crate::settings::{Detector, DetectorTuning, Tuning};

/// A user's own night: the hours at least this many hour-bins from every hour of their
/// working day (5: the hour begins at least 4 hours after their day ends, and ends at
/// least 4 hours before it starts). An evening back after a break (2–3 hours after the
/// day) is not the night.
const OWN_NIGHT_CLEARANCE: usize = 5;

/// The bits of a user's own night: hours [`OWN_NIGHT_CLEARANCE`] clear of their working
/// day (the hours active on a quarter of their active days, as for a role:
/// [`working_day_hours`]). None while no hour is that regular.
pub fn own_night(hour_days: &[u32; 24], active_days: u32) -> u32 {
    clear_of(
        working_day_hours(hour_days, active_days),
        OWN_NIGHT_CLEARANCE,
    )
}

/// What the hour is compared with.
pub enum Basis<'a> {
    User {
        hour_days: &'a [u32; 24],
        days: u32,
    },
    Role {
        role: &'a str,
        hour_days: &'a [u32; 24],
        days: u32,
    },
    WorkingHours,
}

pub struct Context<'a> {
    pub name: &'a str,
    pub local: crate::engine::clock::Local,
    pub ip: Option<IpAddr>,
    pub target: Option<&'a str>,
    pub seq: u64,
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

pub fn check(
    t: &DetectorTuning,
    tuning: &Tuning,
    basis: Basis<'_>,
    c: Context<'_>,
) -> Option<Draft> {
    let when = format!(
        "{} {:02}:{:02} ({})",
        DAYS[c.local.weekday % 7],
        c.local.minute / 60,
        c.local.minute % 60,
        offset_name(tuning.utc_offset)
    );
    let reason = match basis {
        Basis::User { hour_days, days } => rare(t, hour_days, days, c.local, "active days")?,
        Basis::Role {
            role,
            hour_days,
            days,
        } => {
            if usual_for_role(hour_days, days, c.local.hour, t.threshold) {
                return None;
            }
            let r = rare(t, hour_days, days, c.local, "member-days")?;
            format!("{r} in role {role} (no trusted baseline of their own yet)")
        }
        Basis::WorkingHours => {
            if tuning.is_working_time(c.local.weekday, c.local.minute) {
                return None;
            }
            format!(
                "outside working hours {:02}:{:02}–{:02}:{:02} (no trusted baseline yet)",
                tuning.work_start / 60,
                tuning.work_start % 60,
                tuning.work_end / 60,
                tuning.work_end % 60
            )
        }
    };
    let explanation = format!("{}: active {when}, {reason}", c.name);
    Some(
        Draft::new(Detector::OffHours, explanation, vec![c.seq])
            .user(c.name)
            .ip(c.ip)
            .target(c.target),
    )
}

fn rare(
    t: &DetectorTuning,
    hour_days: &[u32; 24],
    days: u32,
    local: Local,
    what: &str,
) -> Option<String> {
    let share = hour_share(hour_days, days, local.hour);
    if share >= t.threshold {
        return None;
    }
    let near: u32 = (-1i64..=1)
        .map(|d| hour_days[usize::try_from((local.hour as i64 + d).rem_euclid(24)).unwrap_or(0)])
        .max()
        .unwrap_or(0);
    Some(format!(
        "a rare hour: active within 1h of it on {near} of {days} {what} (weighted share {} < {}); usual hours {}",
        pct(share),
        pct(t.threshold),
        usual_hours(hour_days, days)
    ))
}

/// Whether `hour` is usual for a role: the weighted share of its member-days active
/// within 2 hours ([`hour_share`]) reaches `threshold`, and some hour within 2 hours
/// of it was active on at least 2 member-days. In a role of a few members one night
/// alone reaches a 2% share; it is one member's night, not the role's habit.
pub fn usual_for_role(
    hour_days: &[u32; 24],
    member_days: u32,
    hour: usize,
    threshold: f64,
) -> bool {
    let most = (0..5)
        .map(|d| hour_days[(hour + 22 + d) % 24])
        .max()
        .unwrap_or(0);
    most >= 2 && hour_share(hour_days, member_days, hour) >= threshold
}

/// `08–18`: from the first to the last hour active on at least a fifth of the days.
fn usual_hours(hour_days: &[u32; 24], days: u32) -> String {
    let busy: Vec<usize> = (0..24)
        .filter(|h| f64::from(hour_days[*h]) >= 0.2 * f64::from(days.max(1)))
        .collect();
    match (busy.first(), busy.last()) {
        (Some(a), Some(b)) => format!("{a:02}–{:02}", b + 1),
        _ => "none".to_string(),
    }
}

fn offset_name(seconds: i64) -> String {
    if seconds == 0 {
        return "UTC".to_string();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.abs();
    format!("UTC{sign}{:02}:{:02}", s / 3600, (s % 3600) / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_members_night_is_not_the_roles_habit() {
        // A support role of 70 member-days working 07-17; one member (an intruder on
        // their account, say) was active at 00:00 and 01:00 one night: a weighted share
        // of 1.5/70 = 2.1% at 00:00 — usual by share alone, so every member's night at
        // 00:00-01:00 went unreported.
        let mut hours = [0u32; 24];
        hours[7..17].fill(70);
        hours[0] = 1;
        hours[1] = 1;
        assert!(hour_share(&hours, 70, 0) >= 0.02);
        assert!(!usual_for_role(&hours, 70, 0, 0.02));
        // Two member-days at 00:00 are a habit of the role.
        hours[0] = 2;
        assert!(usual_for_role(&hours, 70, 0, 0.02));
        // Day hours stay usual.
        assert!(usual_for_role(&hours, 70, 9, 0.02));
    }
}
