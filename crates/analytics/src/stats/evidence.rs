//! The most recent record seqs behind a count, capped, so an alert can name its
//! evidence without keeping every record.

use std::collections::VecDeque;

/// Most evidence an alert lists from one window.
pub const MAX_EVIDENCE: usize = 32;

/// Recent `(time, seq)` pairs, at most [`MAX_EVIDENCE`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    items: VecDeque<(i64, u64)>,
}

impl Evidence {
    pub fn push(&mut self, time: i64, seq: u64) {
        if self.items.len() == MAX_EVIDENCE {
            self.items.pop_front();
        }
        self.items.push_back((time, seq));
    }

    /// Seqs no older than `since`, ascending.
    pub fn since(&self, since: i64) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .items
            .iter()
            .filter(|(t, _)| *t >= since)
            .map(|(_, s)| *s)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Drop everything older than `since` (frees memory of idle keys).
    pub fn prune(&mut self, since: i64) {
        while self.items.front().is_some_and(|(t, _)| *t < since) {
            self.items.pop_front();
        }
    }

    /// How many entries are no older than `since`; `None` when the ring is full of
    /// them (the true count may be higher).
    pub fn count_since(&self, since: i64) -> Option<usize> {
        let n = self.items.iter().filter(|(t, _)| *t >= since).count();
        (n < MAX_EVIDENCE).then_some(n)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_and_filters_by_time() {
        let mut e = Evidence::default();
        for i in 0..100 {
            e.push(i, i as u64 + 1000);
        }
        let all = e.since(0);
        assert_eq!(all.len(), MAX_EVIDENCE);
        assert_eq!(*all.last().unwrap(), 1099);
        assert_eq!(e.since(95), vec![1095, 1096, 1097, 1098, 1099]);
        e.prune(98);
        assert_eq!(e.since(0), vec![1098, 1099]);
    }
}
