//! The `analytics:` section of `warden.yaml`: raw serde data, then [`Settings::compile`]
//! into the typed [`Tuning`] the engine runs on.
//!
//! Plain data with `deny_unknown_fields` and defaults everywhere, so a config crate can
//! embed it as is. Values are kept as written (strings) so that [`Settings::validate`]
//! can report every problem at once with its key path; nothing here reads a clock or a
//! file.

pub mod compile;
pub mod detector;
pub mod span;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use compile::{DetectorTuning, SettingsError, SettingsProblem, Tuning};
pub use detector::Detector;
pub use span::Span;

/// `analytics:` in `warden.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Analytics on or off as a whole (default on).
    pub enabled: bool,
    /// How much history a baseline covers (default `28d`).
    pub baseline: String,
    /// How much history a user (and the engine itself) needs before its baseline is
    /// trusted (default `7d`); until then the detectors that compare with a baseline
    /// fall back to the role's baseline or to `working_hours`.
    pub min_history: String,
    pub working_hours: WorkingHours,
    /// A fixed UTC offset (`+02:00`, `-05:30`, `UTC`) used for hours of the day and days
    /// of the week (no daylight-saving rules).
    pub time_zone: String,
    /// Per-detector overrides by detector name.
    pub detectors: BTreeMap<String, DetectorSettings>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            enabled: true,
            baseline: "28d".into(),
            min_history: "7d".into(),
            working_hours: WorkingHours::default(),
            time_zone: "UTC".into(),
            detectors: BTreeMap::new(),
        }
    }
}

/// The fallback working week for users without a trusted baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkingHours {
    /// Day names (`mon` .. `sun`) or ranges (`mon-fri`).
    pub days: Vec<String>,
    /// `HH:MM`, local to `time_zone`.
    pub start: String,
    /// `HH:MM`, local to `time_zone`; after `start`.
    pub end: String,
}

impl Default for WorkingHours {
    fn default() -> WorkingHours {
        WorkingHours {
            days: vec!["mon-fri".into()],
            start: "07:00".into(),
            end: "20:00".into(),
        }
    }
}

/// Overrides for one detector; anything left out keeps the detector's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorSettings {
    /// Turn the detector off.
    pub off: bool,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: Option<String>,
    /// The detector's number (see docs/analytics.md for what it means per detector).
    pub threshold: Option<f64>,
    /// The sliding window the detector counts in.
    pub window: Option<String>,
    /// No second alert for the same subject within this span.
    pub suppress: Option<String>,
    /// Ask the gateway to refuse the subject's logins for this long after an alert.
    pub lock: Option<String>,
}

impl Settings {
    /// Every problem with these settings, each with its key path (empty when valid).
    pub fn validate(&self) -> Vec<SettingsProblem> {
        match self.compile() {
            Ok(_) => Vec::new(),
            Err(e) => e.problems,
        }
    }

    /// The typed tuning, or every problem at once.
    pub fn compile(&self) -> Result<Tuning, SettingsError> {
        compile::compile(self)
    }
}
