//! Raw [`Settings`] into the typed [`Tuning`]: every problem reported at once, each
//! with its key path under `analytics.` and what to write instead.
//!
//! Never fails on the first problem; never guesses a value the user got wrong.

use std::fmt;

use super::detector::Detector;
use super::span::{Span, DAY};
use super::Settings;
use crate::alert::{LockSubject, Severity};

/// One problem with the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsProblem {
    /// Key path, e.g. `analytics.detectors.off-hours.window`.
    pub path: String,
    pub message: String,
}

/// Every problem found, at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SettingsError {
    pub problems: Vec<SettingsProblem>,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {}", p.path, p.message)?;
        }
        Ok(())
    }
}

/// A detector as the engine runs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorTuning {
    pub on: bool,
    pub severity: Severity,
    pub threshold: f64,
    pub window: Span,
    pub suppress: Span,
    pub lock: Option<(LockSubject, Span)>,
}

/// Validated settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuning {
    pub enabled: bool,
    pub baseline: Span,
    pub min_history: Span,
    /// Monday = 0.
    pub work_days: [bool; 7],
    /// Minutes after local midnight.
    pub work_start: u32,
    pub work_end: u32,
    /// Seconds east of UTC.
    pub utc_offset: i64,
    detectors: [DetectorTuning; 11],
}

impl Tuning {
    pub fn detector(&self, d: Detector) -> &DetectorTuning {
        &self.detectors[d.index()]
    }

    /// Whether `minute_of_week` (local, Monday 00:00 = 0) is inside working hours.
    pub fn is_working_time(&self, day: usize, minute_of_day: u32) -> bool {
        self.work_days[day % 7] && minute_of_day >= self.work_start && minute_of_day < self.work_end
    }

    /// Bits of the local hours that lie wholly at least 3 hours away from the working
    /// hours' daily span (07:00–20:00: 23:00–04:00).
    pub fn deep_night_hours(&self) -> u32 {
        let (start, end) = (self.work_start, self.work_end);
        (0u32..24)
            .filter(|h| {
                let (from, to) = (h * 60, h * 60 + 60);
                let outside = to <= start || from >= end;
                // Minutes from the hour's end on to the next start, and from the last
                // end on to the hour (around midnight).
                let to_start = (start + 1440 - to) % 1440;
                let from_end = (from + 1440 - end) % 1440;
                outside && to_start >= 180 && from_end >= 180
            })
            .fold(0, |bits, h| bits | 1 << h)
    }
}

impl Default for Tuning {
    fn default() -> Tuning {
        Settings::default()
            .compile()
            .unwrap_or_else(|_| unreachable_defaults())
    }
}

/// The defaults always compile (a unit test holds this); never reached.
fn unreachable_defaults() -> Tuning {
    Tuning {
        enabled: true,
        baseline: Span::days(28),
        min_history: Span::days(7),
        work_days: [true, true, true, true, true, false, false],
        work_start: 7 * 60,
        work_end: 20 * 60,
        utc_offset: 0,
        detectors: Detector::ALL.map(default_tuning),
    }
}

fn default_tuning(d: Detector) -> DetectorTuning {
    let x = d.defaults();
    DetectorTuning {
        on: true,
        severity: x.severity,
        threshold: x.threshold,
        window: x.window,
        suppress: x.suppress,
        lock: None,
    }
}

struct Problems(Vec<SettingsProblem>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(SettingsProblem {
            path: path.into(),
            message: message.into(),
        });
    }

    fn span(&mut self, path: &str, text: &str) -> Option<Span> {
        Span::parse(text).map_err(|m| self.add(path, m)).ok()
    }
}

pub(crate) fn compile(s: &Settings) -> Result<Tuning, SettingsError> {
    let mut p = Problems(Vec::new());
    let baseline = p.span("analytics.baseline", &s.baseline);
    let min_history = p.span("analytics.min_history", &s.min_history);
    if let (Some(b), Some(m)) = (baseline, min_history) {
        if m > b {
            p.add(
                "analytics.min_history",
                format!("{m} is longer than the baseline ({b}); make it shorter"),
            );
        }
    }
    if baseline.is_some_and(|b| b.nanos() < DAY || b.nanos() > 366 * DAY) {
        p.add("analytics.baseline", "must be between 1d and 366d");
    }
    let work_days = days(&mut p, &s.working_hours.days);
    let start = clock(
        &mut p,
        "analytics.working_hours.start",
        &s.working_hours.start,
    );
    let end = clock(&mut p, "analytics.working_hours.end", &s.working_hours.end);
    if let (Some(a), Some(b)) = (start, end) {
        if a >= b {
            p.add(
                "analytics.working_hours.end",
                "must be after start (hours that cross midnight are not supported)",
            );
        }
    }
    let utc_offset = offset(&mut p, &s.time_zone);
    let mut detectors = Detector::ALL.map(default_tuning);
    for (name, o) in &s.detectors {
        let base = format!("analytics.detectors.{name}");
        let Some(d) = Detector::parse(name) else {
            p.add(&base, unknown_detector(name));
            continue;
        };
        let t = &mut detectors[d.index()];
        t.on = !o.off;
        if let Some(sev) = &o.severity {
            match Severity::parse(sev) {
                Some(v) => t.severity = v,
                None => p.add(
                    format!("{base}.severity"),
                    format!("`{sev}` is not a severity: use low, medium, high or critical"),
                ),
            }
        }
        if let Some(th) = o.threshold {
            if th.is_finite() && th > 0.0 {
                t.threshold = th;
            } else {
                p.add(format!("{base}.threshold"), "must be a number above zero");
            }
        }
        if let Some(w) = &o.window {
            if let Some(v) = p.span(&format!("{base}.window"), w) {
                t.window = v;
            }
        }
        if let Some(w) = &o.suppress {
            if let Some(v) = p.span(&format!("{base}.suppress"), w) {
                t.suppress = v;
            }
        }
        if let Some(w) = &o.lock {
            if let Some(v) = p.span(&format!("{base}.lock"), w) {
                let subject = match d {
                    Detector::PasswordSpray => LockSubject::Address,
                    _ => LockSubject::User,
                };
                t.lock = Some((subject, v));
            }
        }
    }
    check_windows(&mut p, &detectors, baseline);
    if !p.0.is_empty() {
        return Err(SettingsError { problems: p.0 });
    }
    Ok(Tuning {
        enabled: s.enabled,
        baseline: baseline.unwrap_or(Span::days(28)),
        min_history: min_history.unwrap_or(Span::days(7)),
        work_days,
        work_start: start.unwrap_or(0),
        work_end: end.unwrap_or(0),
        utc_offset,
        detectors,
    })
}

/// Sliding windows are kept in memory per user: keep them short (dormancy excepted).
fn check_windows(p: &mut Problems, detectors: &[DetectorTuning; 11], baseline: Option<Span>) {
    for d in Detector::ALL {
        let w = detectors[d.index()].window;
        let path = format!("analytics.detectors.{d}.window");
        match d {
            Detector::DormantAccount => {
                if w.nanos() < DAY {
                    p.add(path, "a dormancy shorter than 1d is not dormancy");
                }
            }
            Detector::FirstAccess => {}
            _ => {
                if w.nanos() > DAY {
                    p.add(path, "must be at most 1d (sliding windows stay in memory)");
                } else if baseline.is_some_and(|b| w > b) {
                    p.add(path, "must be shorter than the baseline");
                }
            }
        }
    }
}

fn unknown_detector(name: &str) -> String {
    let names: Vec<&str> = Detector::ALL.iter().map(|d| d.name()).collect();
    let close = names
        .iter()
        .find(|n| n.starts_with(&name.chars().take(3).collect::<String>()));
    match close {
        Some(c) => format!("unknown detector `{name}` (did you mean `{c}`?)"),
        None => format!("unknown detector `{name}`; known: {}", names.join(", ")),
    }
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn days(p: &mut Problems, list: &[String]) -> [bool; 7] {
    let mut out = [false; 7];
    let day = |s: &str| {
        DAY_NAMES
            .iter()
            .position(|d| s.trim().eq_ignore_ascii_case(d))
    };
    for (i, item) in list.iter().enumerate() {
        let path = format!("analytics.working_hours.days[{i}]");
        let range = match item.split_once('-') {
            Some((a, b)) => day(a).zip(day(b)),
            None => day(item).map(|d| (d, d)),
        };
        match range {
            Some((a, b)) if a <= b => out[a..=b].iter_mut().for_each(|x| *x = true),
            _ => p.add(
                path,
                format!("`{item}` is not a day or range like mon, sat or mon-fri"),
            ),
        }
    }
    out
}

fn clock(p: &mut Problems, path: &str, text: &str) -> Option<u32> {
    let parsed = text.trim().split_once(':').and_then(|(h, m)| {
        let h: u32 = h.parse().ok()?;
        let m: u32 = m.parse().ok()?;
        (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
    });
    if parsed.is_none() {
        p.add(path, format!("`{text}` is not a time like 08:00"));
    }
    parsed
}

fn offset(p: &mut Problems, text: &str) -> i64 {
    let t = text.trim();
    if t.eq_ignore_ascii_case("utc") || t == "Z" {
        return 0;
    }
    let parsed = t
        .strip_prefix(['+', '-'])
        .and_then(|rest| rest.split_once(':'))
        .and_then(|(h, m)| {
            let h: i64 = h.parse().ok()?;
            let m: i64 = m.parse().ok()?;
            (h <= 14 && m < 60).then_some(h * 3600 + m * 60)
        })
        .map(|v| if t.starts_with('-') { -v } else { v });
    parsed.unwrap_or_else(|| {
        p.add(
            "analytics.time_zone",
            format!("`{text}` is not a fixed UTC offset like +02:00, -05:30 or UTC"),
        );
        0
    })
}

#[cfg(test)]
mod tests {
    use super::super::DetectorSettings;
    use super::*;

    #[test]
    fn defaults_compile() {
        let t = Settings::default().compile().unwrap();
        assert_eq!(t.baseline, Span::days(28));
        assert!(t.detector(Detector::OffHours).on);
        assert_eq!(t, Tuning::default());
    }

    #[test]
    fn deep_night_is_three_hours_clear_of_working_hours() {
        let t = Settings::default().compile().unwrap();
        let hours: Vec<u32> = (0..24)
            .filter(|h| t.deep_night_hours() & 1 << h != 0)
            .collect();
        // 07:00–20:00: 23:00 to 04:00.
        assert_eq!(hours, [0, 1, 2, 3, 23]);
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let mut s = Settings {
            baseline: "28x".into(),
            time_zone: "Europe/Paris".into(),
            ..Settings::default()
        };
        s.working_hours.start = "19:00".into();
        s.working_hours.end = "08:00".into();
        s.working_hours.days = vec!["mon-fry".into()];
        s.detectors.insert(
            "off-hour".into(),
            DetectorSettings {
                off: true,
                ..Default::default()
            },
        );
        s.detectors.insert(
            "failed-login-burst".into(),
            DetectorSettings {
                threshold: Some(-1.0),
                window: Some("2".into()),
                severity: Some("urgent".into()),
                ..Default::default()
            },
        );
        let paths: Vec<String> = s.validate().into_iter().map(|p| p.path).collect();
        for want in [
            "analytics.baseline",
            "analytics.time_zone",
            "analytics.working_hours.end",
            "analytics.working_hours.days[0]",
            "analytics.detectors.off-hour",
            "analytics.detectors.failed-login-burst.threshold",
            "analytics.detectors.failed-login-burst.window",
            "analytics.detectors.failed-login-burst.severity",
        ] {
            assert!(
                paths.iter().any(|p| p == want),
                "{want} missing in {paths:?}"
            );
        }
    }

    #[test]
    fn overrides_apply() {
        let mut s = Settings {
            time_zone: "-05:30".into(),
            ..Settings::default()
        };
        s.detectors.insert(
            "password-spray".into(),
            DetectorSettings {
                threshold: Some(8.0),
                lock: Some("15m".into()),
                severity: Some("critical".into()),
                ..Default::default()
            },
        );
        let t = s.compile().unwrap();
        assert_eq!(t.utc_offset, -(5 * 3600 + 30 * 60));
        let d = t.detector(Detector::PasswordSpray);
        assert_eq!(d.threshold, 8.0);
        assert_eq!(d.severity, Severity::Critical);
        assert_eq!(d.lock, Some((LockSubject::Address, Span::mins(15))));
    }
}
