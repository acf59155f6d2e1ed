//! The live engine and the insights aggregator, shared between the runner (the only
//! writer) and the console (per-user profile pages, insights pages): a `Mutex<Engine>`
//! and a `Mutex<Insights>`, each locked briefly, once per record and once per read (an
//! insights report is an owned copy built under the lock, rendered after it).
//!
//! Why a lock and not a published snapshot: the console reads one user at a time, rarely,
//! while the runner changes state on every record. Copying every user's baseline after
//! each record (or each second) would cost far more than the occasional contention: a
//! record's `observe` takes a few microseconds and `user_baseline` copies at most the
//! baseline's days, 256 targets and 256 addresses, so neither side waits for long. The
//! restore at start locks per record too, so a page view is never stuck behind the
//! whole history.
//!
//! Must never hold the lock across an `.await` or an I/O call (the audit append of an
//! alert happens after the guard is dropped), and never hand the engine out mutably to
//! anyone but the runner.

use std::sync::{Mutex, MutexGuard};

use warden_analytics::insights::{self, Filter, FilterError, Insights, Report};
use warden_analytics::{Alert, Detector, Engine, UserBaseline};
use warden_audit::Record;

/// The runner's engine and insights, each behind a short-held lock.
#[derive(Debug)]
pub struct Baselines {
    engine: Mutex<Engine>,
    insights: Mutex<Insights>,
}

impl Baselines {
    pub fn new(engine: Engine) -> Baselines {
        let insights = Insights::new(engine.tuning().utc_offset);
        Baselines {
            engine: Mutex::new(engine),
            insights: Mutex::new(insights),
        }
    }

    fn engine(&self) -> MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn insights(&self) -> MutexGuard<'_, Insights> {
        self.insights.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Judge one live record (the runner) and count it in the insights.
    pub(super) fn observe(&self, rec: &Record) -> Vec<Alert> {
        let alerts = self.engine().observe(rec);
        self.insights().observe(&insights::facts_of(rec));
        alerts
    }

    /// Learn one historical record silently (the runner's restore) and count it in the
    /// insights.
    pub(super) fn learn(&self, rec: &Record) {
        self.engine().learn(rec);
        self.insights().observe(&insights::facts_of(rec));
    }

    /// Every insights chart for `filter` (an owned copy; the lock is released on return).
    pub fn report(&self, filter: &Filter) -> Result<Report, FilterError> {
        self.insights().report(filter)
    }

    /// Judge one record of another replica (fleet mode); `evidence` identifies it in
    /// the alerts' evidence.
    pub(super) fn observe_remote(&self, rec: &Record, evidence: u64) -> Vec<Alert> {
        let alerts = self.engine().observe_foreign(rec, evidence);
        self.insights().observe(&insights::facts_of(rec));
        alerts
    }

    /// Learn one historical record of another replica silently (fleet mode).
    pub(super) fn learn_remote(&self, rec: &Record, evidence: u64) {
        self.engine().learn_foreign(rec, evidence);
        self.insights().observe(&insights::facts_of(rec));
    }

    /// A detector's `suppress` span (Unix ns): how long the fleet claim of its alert
    /// holds.
    pub(super) fn suppress_nanos(&self, d: Detector) -> i64 {
        self.engine().tuning().detector(d).suppress.nanos()
    }

    /// The history a baseline covers (Unix ns).
    pub(super) fn window_nanos(&self) -> i64 {
        self.engine().tuning().baseline.nanos()
    }

    /// One user's baseline for the console (`None`: no activity in the window).
    pub fn user(&self, name: &str) -> Option<UserBaseline> {
        self.engine().user_baseline(name)
    }
}
