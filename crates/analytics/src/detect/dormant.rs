//! `dormant-account`: the first login or action of a user after a long silence
//! (default window 30d).
//!
//! Needs the user's last activity, which the engine keeps even after the rest of the
//! user's state has been forgotten.

use std::net::IpAddr;

use super::Draft;
use crate::engine::clock;
use crate::settings::span::DAY;
use crate::settings::{Detector, DetectorTuning};

pub fn check(
    t: &DetectorTuning,
    name: &str,
    last_active: i64,
    now: i64,
    ip: Option<IpAddr>,
    target: Option<&str>,
    seq: u64,
) -> Option<Draft> {
    if last_active == 0 || now - last_active < t.window.nanos() {
        return None;
    }
    let days = (now - last_active) / DAY;
    let explanation = format!(
        "{name}: first activity in {days} days (last active {}); dormant after {}",
        clock::date(last_active.div_euclid(DAY)),
        t.window
    );
    Some(
        Draft::new(Detector::DormantAccount, explanation, vec![seq])
            .user(name)
            .ip(ip)
            .target(target),
    )
}
