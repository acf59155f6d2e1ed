//! `rapid-repetition`: the same normalised action (literals replaced) many times in a
//! short window — enumeration, scraping, a runaway script.
//!
//! Fires at the threshold (default 30 in 1m) or twice the user's busiest window of the
//! baseline when that is higher (programs repeat by nature); without a trusted
//! baseline of their own, three times the role's usual (90th percentile).

use std::net::IpAddr;

use super::{num, span, Draft};
use crate::settings::{Detector, DetectorTuning};

pub struct Context<'a> {
    pub name: &'a str,
    pub count: f64,
    /// The baseline's limit (twice the user's busiest window, or three times the
    /// role's 90th percentile), and where it comes from.
    pub usual: Option<(f64, String)>,
    pub text: String,
    pub evidence: Vec<u64>,
    pub at: (Option<IpAddr>, Option<&'a str>),
}

pub fn check(t: &DetectorTuning, c: Context<'_>) -> Option<Draft> {
    let threshold = c
        .usual
        .as_ref()
        .map_or(t.threshold, |u| t.threshold.max(u.0));
    if c.count < threshold {
        return None;
    }
    let w = span(t.window.nanos());
    let on = c.at.1.map(|t| format!(" on {t}")).unwrap_or_default();
    let baseline = match &c.usual {
        Some((q, basis)) => format!("usual{basis}: far below {} in {w}", num(*q)),
        None => "no baseline yet".to_string(),
    };
    let explanation = format!(
        "{}: the same action {} times in {w}{on}: `{}`; {baseline} (threshold {})",
        c.name,
        num(c.count),
        c.text,
        num(threshold)
    );
    Some(
        Draft::new(Detector::RapidRepetition, explanation, c.evidence)
            .user(c.name)
            .ip(c.at.0)
            .target(c.at.1),
    )
}
