//! `failed-login-burst`: many failed logins for one user name in a short window.
//!
//! Fires when the window's count reaches the threshold (default 5 in 10m), or, when
//! higher, twice a busy day's busiest window of the user's baseline and more than its
//! busiest ([`super::adaptive`]). Never looks at successful logins.

use std::net::IpAddr;

use super::{adaptive, span, Busy, Draft};
use crate::engine::metric::Metric;
use crate::engine::user::UserState;
use crate::settings::{Detector, DetectorTuning};

pub fn check(
    t: &DetectorTuning,
    name: &str,
    u: &UserState,
    count: f64,
    trusted: bool,
    now: i64,
) -> Option<Draft> {
    let m = Metric::Fails.index();
    let usual = trusted.then(|| Busy {
        q90: u.cached.q90[m],
        max: u.cached.max[m],
    });
    let threshold = adaptive(t.threshold, usual);
    if count < threshold {
        return None;
    }
    let since = now - t.window.nanos();
    let mut sources: Vec<IpAddr> = u
        .fail_sources
        .iter()
        .filter(|(at, _)| *at >= since)
        .map(|(_, ip)| *ip)
        .collect();
    sources.sort_unstable();
    sources.dedup();
    let from = match sources.as_slice() {
        [] => String::new(),
        [one] => format!(" from {one}"),
        many => format!(" from {} addresses", many.len()),
    };
    let baseline = match usual {
        Some(b) => format!("usual: {}", b.describe(&span(t.window.nanos()))),
        None => "no baseline yet".to_string(),
    };
    let explanation = format!(
        "{name}: {} failed logins in {}{from}; {baseline} (threshold {})",
        super::num(count),
        span(t.window.nanos()),
        super::num(threshold)
    );
    let ip = (sources.len() == 1).then(|| sources[0]);
    Some(
        Draft::new(
            Detector::FailedLoginBurst,
            explanation,
            u.fails.since(since),
        )
        .user(name)
        .ip(ip),
    )
}
