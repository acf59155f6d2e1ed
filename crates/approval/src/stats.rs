//! Counters and latency histograms the console renders on `/metrics`.
//!
//! Lock-free atomics only: recording a number must never slow a transition down.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use crate::request::ApprovalState;

/// Upper bounds (seconds) of the histogram buckets; the last bucket is +Inf.
pub const DECISION_BUCKETS: [f64; 10] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];
/// Upper bounds (seconds) for audit append latency.
pub const APPEND_BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// A fixed-bucket cumulative histogram.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    total: AtomicU64,
}

/// A point-in-time copy of a histogram: (upper bound, cumulative count) pairs.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    pub buckets: Vec<(f64, u64)>,
    pub sum_seconds: f64,
    pub count: u64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            total: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            if secs <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.total.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            buckets: self
                .bounds
                .iter()
                .zip(&self.counts)
                .map(|(b, c)| (*b, c.load(Ordering::Relaxed)))
                .collect(),
            sum_seconds: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
            count: self.total.load(Ordering::Relaxed),
        }
    }
}

/// Live counters of one `Approvals` instance.
#[derive(Debug)]
pub struct Stats {
    pub(crate) pending: AtomicI64,
    pub(crate) requested: AtomicU64,
    pub(crate) outcomes: [AtomicU64; 6],
    pub(crate) time_to_decision: Histogram,
    pub(crate) audit_append: Histogram,
    pub(crate) audit_failures: AtomicU64,
}

/// A copy of the counters for rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsSnapshot {
    pub pending: u64,
    pub requested: u64,
    /// Transitions into each state since start, by state name.
    pub outcomes: Vec<(&'static str, u64)>,
    pub time_to_decision: HistogramSnapshot,
    pub audit_append: HistogramSnapshot,
    pub audit_failures: u64,
}

impl Stats {
    pub(crate) fn new() -> Stats {
        Stats {
            pending: AtomicI64::new(0),
            requested: AtomicU64::new(0),
            outcomes: Default::default(),
            time_to_decision: Histogram::new(&DECISION_BUCKETS),
            audit_append: Histogram::new(&APPEND_BUCKETS),
            audit_failures: AtomicU64::new(0),
        }
    }

    pub(crate) fn entered(&self, from: ApprovalState, to: ApprovalState) {
        if from == to {
            return;
        }
        if from == ApprovalState::Pending {
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
        if to == ApprovalState::Pending {
            self.pending.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(i) = ApprovalState::ALL.iter().position(|s| *s == to) {
            self.outcomes[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            pending: u64::try_from(self.pending.load(Ordering::Relaxed)).unwrap_or(0),
            requested: self.requested.load(Ordering::Relaxed),
            outcomes: ApprovalState::ALL
                .iter()
                .zip(&self.outcomes)
                .filter(|(s, _)| **s != ApprovalState::Pending)
                .map(|(s, c)| (s.as_str(), c.load(Ordering::Relaxed)))
                .collect(),
            time_to_decision: self.time_to_decision.snapshot(),
            audit_append: self.audit_append.snapshot(),
            audit_failures: self.audit_failures.load(Ordering::Relaxed),
        }
    }
}
