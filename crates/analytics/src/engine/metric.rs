//! The per-user quantities counted in sliding windows, and their daily peaks.
//!
//! A closed list: adding one means a new column in every user's day summary.

use crate::settings::Detector;

/// One windowed quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Failed logins.
    Fails = 0,
    /// Denied or held actions.
    Denials,
    /// Failed actions.
    Errors,
    /// Completed actions (the denominator of the error share).
    Completed,
    /// Actions decided.
    Actions,
    /// Rows returned or affected.
    Rows,
    /// Bytes returned.
    Bytes,
    /// The most repetitions of one normalised action.
    Repeat,
}

/// How many metrics there are.
pub const METRICS: usize = 8;

impl Metric {
    pub const ALL: [Metric; METRICS] = [
        Metric::Fails,
        Metric::Denials,
        Metric::Errors,
        Metric::Completed,
        Metric::Actions,
        Metric::Rows,
        Metric::Bytes,
        Metric::Repeat,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// The detector whose window this metric is counted in.
    pub fn detector(self) -> Detector {
        match self {
            Metric::Fails => Detector::FailedLoginBurst,
            Metric::Denials => Detector::DenialStorm,
            Metric::Errors | Metric::Completed => Detector::ErrorSpike,
            Metric::Actions | Metric::Rows | Metric::Bytes => Detector::UnusualVolume,
            Metric::Repeat => Detector::RapidRepetition,
        }
    }

    /// The word explanations use.
    pub fn noun(self) -> &'static str {
        match self {
            Metric::Fails => "failed logins",
            Metric::Denials => "denied or held actions",
            Metric::Errors => "failed actions",
            Metric::Completed => "completed actions",
            Metric::Actions => "actions",
            Metric::Rows => "rows",
            Metric::Bytes => "bytes",
            Metric::Repeat => "repetitions",
        }
    }
}
