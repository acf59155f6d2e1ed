//! `denial-storm`: many denied or held actions by one user in a short window — someone
//! probing the guard rails.
//!
//! Fires at the threshold (default 8 in 10m) or, when higher, twice a busy day's busiest
//! window of the user's baseline and more than its busiest ([`super::adaptive`]: people
//! whose work is routinely held for approval).

use std::net::IpAddr;

use super::{adaptive, num, span, Busy, Draft};
use crate::engine::user::UserState;
use crate::settings::{Detector, DetectorTuning};

pub fn check(
    t: &DetectorTuning,
    name: &str,
    u: &UserState,
    count: f64,
    usual: Option<Busy>,
    at: (Option<IpAddr>, Option<&str>),
    now: i64,
) -> Option<Draft> {
    let threshold = adaptive(t.threshold, usual);
    if count < threshold {
        return None;
    }
    let w = span(t.window.nanos());
    let baseline = match usual {
        Some(b) => format!("usual: {}", b.describe(&w)),
        None => "no baseline yet".to_string(),
    };
    let explanation = format!(
        "{name}: {} denied or held actions in {w}; {baseline} (threshold {})",
        num(count),
        num(threshold)
    );
    Some(
        Draft::new(
            Detector::DenialStorm,
            explanation,
            u.denials.since(now - t.window.nanos()),
        )
        .user(name)
        .ip(at.0)
        .target(at.1),
    )
}
