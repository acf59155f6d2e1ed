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

/// A count threshold that follows the subject's own baseline: the configured floor, or
/// twice the busiest window of the baseline when that is higher ("far above what this
/// user has done in the last weeks").
pub fn adaptive(floor: f64, busiest: Option<f64>) -> f64 {
    busiest.map_or(floor, |b| floor.max(2.0 * b))
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
        assert_eq!(adaptive(5.0, Some(1.0)), 5.0);
        assert_eq!(adaptive(5.0, Some(4.0)), 8.0);
        assert_eq!(adaptive(5.0, None), 5.0);
    }
}
