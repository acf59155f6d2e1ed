//! How far the writes behind the journal have got: applied to sled, flushed by sled.
//!
//! The writer numbers every sled write it hands to the applier (apply.rs) — a batch of
//! records or a checkpoint — with an *op* number, in journal order, and raises
//! `written`; the applier raises `applied` as it writes them to sled; the flusher
//! (flusher.rs) raises `durable` once a sled flush + fsync that started after `applied`
//! reached n has completed. This module must never let a counter run ahead of
//! what it counts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::writer::lock;

#[derive(Default)]
pub(crate) struct Progress {
    /// Ops journaled and handed to the applier.
    written: AtomicU64,
    /// Ops written to sled by the applier.
    applied: AtomicU64,
    /// Ops covered by a completed sled flush + fsync.
    durable: AtomicU64,
    /// Whether the applier has stopped (nobody waits for it then); guards `applied_cv`.
    stopped: Mutex<bool>,
    applied_cv: Condvar,
    /// (flush asked for, flusher must stop).
    kick: Mutex<(bool, bool)>,
    kick_cv: Condvar,
}

impl Progress {
    pub(crate) fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// The writer handed op `op` to the applier.
    pub(crate) fn set_written(&self, op: u64) {
        self.written.fetch_max(op, Ordering::AcqRel);
    }

    pub(crate) fn applied(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    pub(crate) fn durable(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }

    /// The applier wrote ops up to `op` to sled.
    pub(crate) fn set_applied(&self, op: u64) {
        self.applied.fetch_max(op, Ordering::AcqRel);
        let _guard = lock(&self.stopped);
        self.applied_cv.notify_all();
    }

    /// The applier stopped (shut down or failed): nobody waits for it any more.
    pub(crate) fn applier_stopped(&self) {
        *lock(&self.stopped) = true;
        self.applied_cv.notify_all();
    }

    /// Block until ops up to `op` are in sled (or the applier stopped). Returns whether
    /// they are.
    pub(crate) fn wait_op(&self, op: u64) -> bool {
        let mut s = lock(&self.stopped);
        while self.applied() < op && !*s {
            s = self
                .applied_cv
                .wait_timeout(s, Duration::from_millis(100))
                .map(|r| r.0)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        self.applied() >= op
    }

    /// A sled flush + fsync that started when `applied` was `op` has completed.
    pub(crate) fn covered(&self, op: u64) {
        self.durable.fetch_max(op, Ordering::AcqRel);
    }

    /// Ask the flusher for a flush now.
    pub(crate) fn kick(&self) {
        lock(&self.kick).0 = true;
        self.kick_cv.notify_one();
    }

    /// Tell the flusher to stop.
    pub(crate) fn stop_flusher(&self) {
        lock(&self.kick).1 = true;
        self.kick_cv.notify_one();
    }

    /// The flusher waits here: `Some(true)` when a flush was asked for, `Some(false)`
    /// when `every` passed, `None` when it must stop.
    pub(crate) fn next_flush(&self, every: Duration) -> Option<bool> {
        let mut k = lock(&self.kick);
        if !k.0 && !k.1 {
            k = self
                .kick_cv
                .wait_timeout(k, every)
                .map(|r| r.0)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        if k.1 {
            return None;
        }
        Some(std::mem::take(&mut k.0))
    }
}
