//! # warden-analytics
//!
//! User-behaviour analytics over Warden's audit log: per-user, per-role and per-target
//! baselines, eleven detectors with explanations that name their numbers, and alerts
//! as plain serialisable data.
//!
//! * [`Engine`] — feed it records (`observe`), or history silently (`learn`,
//!   `restore`), get [`Alert`]s. The records' own timestamps are its clock.
//! * [`Settings`] — the `analytics:` section of `warden.yaml`; `validate()` reports
//!   every problem at once.
//! * [`replay`] — JSON lines in the export format through the same engine.
//!
//! The live `warden_audit::Record` API ([`Engine::observe`], `learn`, `restore`) is behind
//! the `audit` feature, so that a configuration reader can use [`Settings`] without the
//! audit log's runtime.
//!
//! This crate is pure: no tokio, no sockets, no storage, no wall clock. It never
//! decides anything for the gateway (a `lock` on an alert is a request the gateway may
//! honour) and never reads its own alerts back as input. See `docs/analytics.md`.

#![forbid(unsafe_code)]

#[cfg(feature = "audit")]
pub mod access;
pub mod alert;
pub mod classify;
pub mod detect;
pub mod engine;
pub mod insights;
pub mod observation;
#[cfg(feature = "audit")]
pub mod record;
pub mod replay;
pub mod settings;
pub mod stats;

pub use alert::{Alert, Lock, LockSubject, Severity};
pub use engine::{DayVolume, Engine, EngineStats, UserBaseline, UsualAddress, UsualTarget};
pub use observation::{Decision, Kind, Observation};
pub use replay::{ReplayError, ReplayOptions, ReplayStats};
pub use settings::{Detector, DetectorSettings, Settings, SettingsError, SettingsProblem, Tuning};
