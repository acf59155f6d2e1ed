//! `error-spike`: a user's actions failing far more than usual.
//!
//! Fires when, within the window (default 15m), the failed actions reach the threshold
//! (default 10, or when higher twice a busy day's busiest window of the user's baseline
//! and more than its busiest: [`super::adaptive`]) and their share of completed actions
//! is at least 30% and three times the user's usual share.

use std::net::IpAddr;

use super::{adaptive, num, pct, span, Busy, Draft};
use crate::engine::user::UserState;
use crate::settings::{Detector, DetectorTuning};

/// The user's (or role's) usual failure numbers.
pub struct Usual {
    /// Failures in a busy day's busiest window and in the baseline's busiest.
    pub peak: Busy,
    /// Failed share of completed actions.
    pub share: f64,
}

pub fn check(
    t: &DetectorTuning,
    name: &str,
    u: &UserState,
    counts: (f64, f64),
    usual: Option<Usual>,
    at: (Option<IpAddr>, Option<&str>),
    now: i64,
) -> Option<Draft> {
    let (errors, completed) = counts;
    let threshold = adaptive(t.threshold, usual.as_ref().map(|u| u.peak));
    let share = if completed > 0.0 {
        errors / completed
    } else {
        1.0
    };
    let min_share = usual.as_ref().map_or(0.3, |u| (3.0 * u.share).max(0.3));
    if errors < threshold || share < min_share {
        return None;
    }
    let w = span(t.window.nanos());
    let baseline = match &usual {
        Some(us) => format!(
            "usual: {} of actions fail, {}",
            pct(us.share),
            us.peak.describe(&w)
        ),
        None => "no baseline yet".to_string(),
    };
    let explanation = format!(
        "{name}: {} of {} actions failed in {w} ({}); {baseline}",
        num(errors),
        num(completed.max(errors)),
        pct(share.min(1.0))
    );
    Some(
        Draft::new(
            Detector::ErrorSpike,
            explanation,
            u.errors.since(now - t.window.nanos()),
        )
        .user(name)
        .ip(at.0)
        .target(at.1),
    )
}
