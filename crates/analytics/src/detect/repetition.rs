//! `rapid-repetition`: the same normalised action (literals replaced) many times in a
//! short window — enumeration, scraping, a runaway script.
//!
//! Fires at the threshold (default 30 in 1m) or, when higher, twice a busy day's
//! busiest window of the user's baseline and more than its busiest
//! ([`super::adaptive`]: programs repeat by nature); without a trusted
//! baseline of their own, three times the role's usual (90th percentile).

use std::net::IpAddr;

use super::{num, span, Draft};
use crate::settings::{Detector, DetectorTuning};

pub struct Context<'a> {
    pub name: &'a str,
    pub count: f64,
    /// The baseline's limit (the user's adaptive threshold without the floor, or three
    /// times the role's 90th percentile), and the role it comes from (none: the user's
    /// own).
    pub usual: Option<(f64, Option<&'a str>)>,
    pub at: (Option<IpAddr>, Option<&'a str>),
}

/// `details` gives the normalised action text and the evidence; it is called only
/// when the alert fires (a job repeating all night is asked on every record).
pub fn check(
    t: &DetectorTuning,
    c: Context<'_>,
    details: impl FnOnce() -> (String, Vec<u64>),
) -> Option<Draft> {
    let threshold = c
        .usual
        .as_ref()
        .map_or(t.threshold, |u| t.threshold.max(u.0));
    if c.count < threshold {
        return None;
    }
    let (text, evidence) = details();
    let w = span(t.window.nanos());
    let on = c.at.1.map(|t| format!(" on {t}")).unwrap_or_default();
    let baseline = match &c.usual {
        Some((q, Some(role))) => format!("usual in role {role}: far below {} in {w}", num(*q)),
        Some((q, None)) => format!("usual: far below {} in {w}", num(*q)),
        None => "no baseline yet".to_string(),
    };
    let explanation = format!(
        "{}: the same action {} times in {w}{on}: `{}`; {baseline} (threshold {})",
        c.name,
        num(c.count),
        text,
        num(threshold)
    );
    Some(
        Draft::new(Detector::RapidRepetition, explanation, evidence)
            .user(c.name)
            .ip(c.at.0)
            .target(c.at.1),
    )
}
