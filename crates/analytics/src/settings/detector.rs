//! The detectors by stable name, with their built-in defaults.
//!
//! The names are part of the interface (alerts, policy conditions `user.alerts`, label
//! files): never rename one.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::span::Span;
use crate::alert::Severity;

/// One detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Detector {
    // Declared in the order of `ALL` (`index()` is the position there).
    FailedLoginBurst,
    PasswordSpray,
    DormantAccount,
    NewSource,
    FirstAccess,
    OffHours,
    PrivilegeChange,
    DenialStorm,
    ErrorSpike,
    UnusualVolume,
    RapidRepetition,
}

/// What a detector does when nobody configures it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Defaults {
    pub severity: Severity,
    /// Meaning depends on the detector (see `docs/analytics.md`).
    pub threshold: f64,
    pub window: Span,
    /// No second alert with the same key within this span.
    pub suppress: Span,
}

impl Detector {
    /// Every detector, in the order they judge a record (and so the order of alerts that
    /// one record raises).
    pub const ALL: [Detector; 11] = [
        Detector::FailedLoginBurst,
        Detector::PasswordSpray,
        Detector::DormantAccount,
        Detector::NewSource,
        Detector::FirstAccess,
        Detector::OffHours,
        Detector::PrivilegeChange,
        Detector::DenialStorm,
        Detector::ErrorSpike,
        Detector::UnusualVolume,
        Detector::RapidRepetition,
    ];

    /// The stable name (`failed-login-burst`).
    pub fn name(self) -> &'static str {
        match self {
            Detector::FailedLoginBurst => "failed-login-burst",
            Detector::PasswordSpray => "password-spray",
            Detector::FirstAccess => "first-access",
            Detector::OffHours => "off-hours",
            Detector::UnusualVolume => "unusual-volume",
            Detector::PrivilegeChange => "privilege-change",
            Detector::DenialStorm => "denial-storm",
            Detector::ErrorSpike => "error-spike",
            Detector::DormantAccount => "dormant-account",
            Detector::RapidRepetition => "rapid-repetition",
            Detector::NewSource => "new-source",
        }
    }

    pub fn parse(name: &str) -> Option<Detector> {
        Detector::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Index into per-detector tables.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Built-in defaults.
    pub fn defaults(self) -> Defaults {
        use Severity::*;
        let d = |severity, threshold, window, suppress| Defaults {
            severity,
            threshold,
            window,
            suppress,
        };
        match self {
            // threshold: failed logins of one user within `window` (a floor: a user whose
            // own busiest window is noisier gets 3x that).
            Detector::FailedLoginBurst => d(High, 5.0, Span::mins(10), Span::hours(1)),
            // threshold: distinct user names failing from one address within `window`.
            Detector::PasswordSpray => d(High, 5.0, Span::mins(30), Span::hours(2)),
            // threshold: share of the other members of the user's role who used the target
            // in the baseline window for it to count as usual for the role (at least 1).
            Detector::FirstAccess => d(Medium, 0.1, Span::days(28), Span::hours(24)),
            // threshold: the hour is rare when the weighted share of the user's active
            // days with activity within 2 hours of it (weights 1, 1/2, 1/4) is below this. window: the quiet
            // time before, so a working day that runs late is not a new start.
            Detector::OffHours => d(Medium, 0.02, Span::hours(2), Span::hours(12)),
            // threshold: multiple of a busy day's busiest `window` (90th percentile of
            // the user's daily peaks); also at least three times the baseline's busiest.
            Detector::UnusualVolume => d(High, 5.0, Span::hours(1), Span::hours(4)),
            // threshold: unused (every attempt counts).
            Detector::PrivilegeChange => d(High, 1.0, Span::mins(10), Span::mins(10)),
            // threshold: denied or held actions of one user within `window` (a floor).
            Detector::DenialStorm => d(High, 8.0, Span::mins(10), Span::hours(1)),
            // threshold: failed actions of one user within `window` (a floor); the share
            // of failed actions must also be far above the user's usual share.
            Detector::ErrorSpike => d(Medium, 10.0, Span::mins(15), Span::hours(1)),
            // window: the silence that makes an account dormant.
            Detector::DormantAccount => d(Medium, 1.0, Span::days(30), Span::days(1)),
            // threshold: the same normalised action within `window` (a floor).
            Detector::RapidRepetition => d(Medium, 30.0, Span::mins(1), Span::hours(1)),
            // threshold: unused.
            Detector::NewSource => d(Medium, 1.0, Span::hours(1), Span::hours(24)),
        }
    }
}

impl fmt::Display for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_indices_are_dense() {
        let mut seen = [false; 11];
        for (i, d) in Detector::ALL.into_iter().enumerate() {
            assert_eq!(d.index(), i);
            assert_eq!(Detector::parse(d.name()), Some(d));
            seen[d.index()] = true;
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(json, format!("\"{}\"", d.name()));
        }
        assert!(seen.iter().all(|s| *s));
    }
}
