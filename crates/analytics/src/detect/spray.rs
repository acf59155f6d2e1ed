//! `password-spray`: one client address failing logins for many different user names.
//!
//! Fires when the distinct names failing from one address within the window reach the
//! threshold (default 5 in 30m). Keyed by the address, not a user.

use std::net::IpAddr;

use super::{span, Draft};
use crate::engine::address::AddressState;
use crate::settings::{Detector, DetectorTuning};

pub fn check(t: &DetectorTuning, ip: IpAddr, a: &AddressState, now: i64) -> Option<Draft> {
    let since = now - t.window.nanos();
    let names = a.failed_since(since);
    if (names.len() as f64) < t.threshold {
        return None;
    }
    let shown: Vec<&str> = names.iter().take(6).copied().collect();
    let more = if names.len() > shown.len() {
        format!(" and {} more", names.len() - shown.len())
    } else {
        String::new()
    };
    let explanation = format!(
        "{ip}: failed logins for {} different users in {} ({}{more}); threshold {}",
        names.len(),
        span(t.window.nanos()),
        shown.join(", "),
        t.threshold
    );
    Some(
        Draft::new(
            Detector::PasswordSpray,
            explanation,
            a.failed_evidence.since(since),
        )
        .ip(Some(ip)),
    )
}
