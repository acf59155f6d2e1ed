//! `unusual-volume`: actions, rows or bytes in the window (default 1h) far above the
//! user's own usual busiest window.
//!
//! Own baseline: above `threshold` (default 5) times the 90th percentile of the user's
//! daily peaks (a busy day's busiest window) and above three times the busiest window
//! of the whole baseline (a new record, by far). Role fallback (no trusted baseline of their
//! own): above `threshold` times the 90th percentile of the role's member-day peaks.
//! Always above a floor (60 actions, 5,000 rows, 5 MB) so quiet users doing a little
//! more are not news.

use std::net::IpAddr;

use super::{num, span, Draft};
use crate::engine::user::UserState;
use crate::settings::{Detector, DetectorTuning};

/// Floors for actions, rows, bytes.
pub const FLOORS: [f64; 3] = [60.0, 5_000.0, 5_000_000.0];
const NOUNS: [&str; 3] = ["actions", "rows", "bytes"];

/// What the window is compared with.
pub enum Usual<'a> {
    /// The user's daily peaks: (90th percentile, highest) per quantity.
    Own([(f64, f64); 3]),
    /// The role's member-day peaks, 90th percentile per quantity.
    Role(&'a str, [f64; 3]),
}

pub fn check(
    t: &DetectorTuning,
    name: &str,
    u: &UserState,
    values: [f64; 3],
    usual: Usual<'_>,
    at: (Option<IpAddr>, Option<&str>),
    now: i64,
) -> Option<Draft> {
    let k = t.threshold;
    let mut over = Vec::new();
    for i in 0..3 {
        let (threshold, typical) = match &usual {
            Usual::Own(s) => {
                let (m, max) = s[i];
                (FLOORS[i].max(k * m).max(3.0 * max), m)
            }
            Usual::Role(_, q) => (FLOORS[i].max(k * q[i]), q[i]),
        };
        if values[i] >= threshold {
            over.push(format!(
                "{} {} (busy-day busiest {}: {}, threshold {})",
                num(values[i]),
                NOUNS[i],
                span(t.window.nanos()),
                num(typical),
                num(threshold)
            ));
        }
    }
    if over.is_empty() {
        return None;
    }
    let basis = match usual {
        Usual::Own(_) => String::new(),
        Usual::Role(role, _) => {
            format!("; compared with role {role} (no trusted baseline of their own yet)")
        }
    };
    let explanation = format!(
        "{name}: {} in {}{basis}",
        over.join(", "),
        span(t.window.nanos())
    );
    Some(
        Draft::new(
            Detector::UnusualVolume,
            explanation,
            u.volume.since(now - t.window.nanos()),
        )
        .user(name)
        .ip(at.0)
        .target(at.1),
    )
}
