//! A sliding-window sum in three numbers: the current fixed window's sum plus the
//! previous window's, weighted by how much of it still overlaps the sliding window
//! (the approximation rate limiters use). Exact for steady rates, within one window's
//! worth of error for bursts; constant memory.

/// Sum of values over the last `window` nanoseconds (window passed to every call).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rate {
    start: i64,
    cur: f64,
    prev: f64,
}

impl Rate {
    fn roll(&mut self, t: i64, window: i64) {
        if t < self.start + window {
            return;
        }
        let skipped = (t - self.start) / window;
        self.prev = if skipped == 1 { self.cur } else { 0.0 };
        self.cur = 0.0;
        self.start += skipped * window;
    }

    /// Add `v` at time `t` (times never go backwards here; the engine clamps them).
    pub fn add(&mut self, t: i64, v: f64, window: i64) {
        if self.start == 0 && self.cur == 0.0 && self.prev == 0.0 {
            self.start = t - t.rem_euclid(window);
        }
        self.roll(t, window);
        self.cur += v;
    }

    /// The sliding sum at `t`.
    pub fn value(&self, t: i64, window: i64) -> f64 {
        let mut r = *self;
        r.roll(t, window);
        let into = (t - r.start) as f64 / window as f64;
        r.cur + r.prev * (1.0 - into).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_a_burst_and_forgets_it() {
        let w = 600;
        let mut r = Rate::default();
        for t in 1000..1010 {
            r.add(t, 1.0, w);
        }
        assert!((r.value(1010, w) - 10.0).abs() < 1e-9);
        // Half a window later the previous window counts half.
        let later = 1200 + 600 + 300;
        assert!(r.value(later, w) < 10.0);
        assert_eq!(r.value(1000 + 3 * w, w), 0.0);
    }

    #[test]
    fn steady_rate_is_exact_enough() {
        let w = 60;
        let mut r = Rate::default();
        for t in (0..6000).map(|i| 10_000 + i) {
            r.add(t, 1.0, w);
        }
        let v = r.value(15_999, w);
        assert!((v - 60.0).abs() <= 1.5, "{v}");
    }
}
