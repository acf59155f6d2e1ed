//! The detectors: each module is one detector's condition and its explanation, as pure
//! functions over the state the engine hands it.
//!
//! A detector never mutates state, never reads a clock and never decides anything for
//! the gateway: it returns a [`Draft`] that the engine deduplicates and turns into an
//! [`crate::Alert`].

pub mod burst;
pub mod denials;
pub mod dormant;
pub mod errors;
pub mod first_access;
pub mod new_source;
pub mod off_hours;
pub mod privilege;
pub mod repetition;
pub mod spray;
pub mod volume;

use std::net::IpAddr;

use crate::settings::{Detector, Span};

/// An alert before deduplication, severity and time are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub detector: Detector,
    pub user: Option<String>,
    pub ip: Option<IpAddr>,
    pub target: Option<String>,
    pub explanation: String,
    pub evidence: Vec<u64>,
    /// The suppression key of its detector and subject (set by the engine).
    pub subject: u64,
}

impl Draft {
    pub fn new(detector: Detector, explanation: String, evidence: Vec<u64>) -> Draft {
        Draft {
            detector,
            user: None,
            ip: None,
            target: None,
            explanation,
            evidence,
            subject: 0,
        }
    }

    pub fn user(mut self, user: &str) -> Draft {
        self.user = Some(user.to_string());
        self
    }

    pub fn ip(mut self, ip: Option<IpAddr>) -> Draft {
        self.ip = ip;
        self
    }

    pub fn target(mut self, target: Option<&str>) -> Draft {
        self.target = target.map(str::to_string);
        self
    }
}

/// A subject's usual busiest windows of one quantity over the baseline's active days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Busy {
    /// A busy day's busiest window: the 90th percentile of the daily peaks.
    pub q90: f64,
    /// The busiest window of the whole baseline.
    pub max: f64,
}

impl Busy {
    /// `at most 3 in 10m on 9 days of 10, 4 once`.
    pub fn describe(&self, window: &str) -> String {
        if self.max > self.q90 {
            format!(
                "at most {} in {window} on 9 days of 10, {} at the busiest",
                num(self.q90),
                num(self.max)
            )
        } else {
            format!("at most {} in {window}", num(self.q90))
        }
    }
}

/// A count threshold that follows the subject's own baseline: the configured floor,
/// twice a busy day's busiest window (90th percentile of daily peaks: "far above what
/// this user usually does"), and above the baseline's busiest window (never news for a
/// count the user already reached in the last weeks), whichever is highest.
///
/// The 90th percentile, not the maximum, is doubled: one odd day in the baseline (a
/// user who mistyped a password four times once) must not double the bar for weeks.
pub fn adaptive(floor: f64, busy: Option<Busy>) -> f64 {
    busy.map_or(floor, |b| floor.max(2.0 * b.q90).max(b.max + 1.0))
}

/// `7`, `7.5`, `1.2k`, `3.4M`.
pub fn num(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if (v - v.round()).abs() < 0.05 {
        format!("{}", v.round())
    } else {
        format!("{v:.1}")
    }
}

/// `12%`.
pub fn pct(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// `10m`.
pub fn span(nanos: i64) -> String {
    Span(nanos).to_string()
}

/// Sorted, deduplicated evidence.
pub fn evidence(mut seqs: Vec<u64>) -> Vec<u64> {
    seqs.sort_unstable();
    seqs.dedup();
    seqs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(num(7.0), "7");
        assert_eq!(num(7.46), "7.5");
        assert_eq!(num(12_345.0), "12.3k");
        assert_eq!(num(3_400_000.0), "3.4M");
        assert_eq!(pct(0.123), "12%");
        let busy = |q90, max| Some(Busy { q90, max });
        assert_eq!(adaptive(5.0, busy(1.0, 1.0)), 5.0);
        assert_eq!(adaptive(5.0, busy(4.0, 4.0)), 8.0);
        assert_eq!(adaptive(5.0, None), 5.0);
        assert_eq!(adaptive(5.0, busy(1.0, 7.0)), 8.0);
    }

    #[test]
    fn one_odd_day_does_not_double_the_threshold() {
        // Four mistyped passwords on two days of the baseline, at most one on nine days
        // of ten: 7 failures in the window are news (twice the busiest, 8, was not).
        let typos = Some(Busy { q90: 1.0, max: 4.0 });
        assert_eq!(adaptive(5.0, typos), 5.0);
        assert!(7.0 >= adaptive(5.0, typos));
        // A routine of 3 on busy days still doubles: 6.
        assert_eq!(adaptive(5.0, Some(Busy { q90: 3.0, max: 4.0 })), 6.0);
    }
}
