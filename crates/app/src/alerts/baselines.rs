//! The live engine, shared between the runner (the only writer) and the console (per-user
//! profile pages): a `Mutex<Engine>` locked briefly, once per record judged and once per
//! profile read.
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

use warden_analytics::{Alert, Engine, UserBaseline};
use warden_audit::Record;

/// The runner's engine behind a short-held lock.
#[derive(Debug)]
pub struct Baselines {
    engine: Mutex<Engine>,
}

impl Baselines {
    pub fn new(engine: Engine) -> Baselines {
        Baselines {
            engine: Mutex::new(engine),
        }
    }

    fn engine(&self) -> MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Judge one live record (the runner).
    pub(super) fn observe(&self, rec: &Record) -> Vec<Alert> {
        self.engine().observe(rec)
    }

    /// Learn one historical record silently (the runner's restore).
    pub(super) fn learn(&self, rec: &Record) {
        self.engine().learn(rec);
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
