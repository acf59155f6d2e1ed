//! A bounded reorder buffer: records are released in time order once the newest time
//! read is `lag` ahead of them, or when the buffer is full.
//!
//! Sorted input (an export) holds only `lag` worth of records, so memory stays flat
//! however long the file; input out of order by less than `lag` (and `capacity`
//! records) is replayed exactly in time order. A record that arrives after later ones
//! were released is "late": the engine counts it at its clock's current time.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::observation::Observation;

struct Pending {
    time: i64,
    order: u64,
    obs: Observation<'static>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.order == other.order
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    /// Reversed: the heap's top is the earliest (time, then file order).
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.order).cmp(&(self.time, self.order))
    }
}

/// The buffer.
pub struct Reorder {
    heap: BinaryHeap<Pending>,
    lag: i64,
    capacity: usize,
    newest: i64,
    released: i64,
    order: u64,
    pub late: u64,
}

impl Reorder {
    pub fn new(lag: i64, capacity: usize) -> Reorder {
        Reorder {
            heap: BinaryHeap::new(),
            lag,
            capacity: capacity.max(1),
            newest: i64::MIN,
            released: i64::MIN,
            order: 0,
            late: 0,
        }
    }

    /// Add one record; `release` gets every record now due, in time order.
    pub fn push(&mut self, obs: Observation<'_>, mut release: impl FnMut(Observation<'static>)) {
        if obs.time < self.released {
            self.late += 1;
        }
        self.newest = self.newest.max(obs.time);
        self.order += 1;
        self.heap.push(Pending {
            time: obs.time,
            order: self.order,
            obs: obs.into_owned(),
        });
        while let Some(top) = self.heap.peek() {
            let due =
                top.time <= self.newest.saturating_sub(self.lag) || self.heap.len() > self.capacity;
            if !due {
                break;
            }
            if let Some(p) = self.heap.pop() {
                self.released = self.released.max(p.time);
                release(p.obs);
            }
        }
    }

    /// Release everything left, in time order.
    pub fn finish(&mut self, mut release: impl FnMut(Observation<'static>)) {
        while let Some(p) = self.heap.pop() {
            self.released = self.released.max(p.time);
            release(p.obs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::Kind;

    #[test]
    fn releases_in_time_order_within_the_lag() {
        let mut r = Reorder::new(10, 1000);
        let mut out = Vec::new();
        for (seq, t) in [(1, 100), (2, 95), (3, 120), (4, 101), (5, 200)] {
            r.push(Observation::new(seq, t, Kind::Other), |o| out.push(o.seq));
        }
        r.finish(|o| out.push(o.seq));
        assert_eq!(out, vec![2, 1, 4, 3, 5]);
        assert_eq!(r.late, 0);
    }

    #[test]
    fn too_late_records_are_counted() {
        let mut r = Reorder::new(0, 1);
        let mut out = Vec::new();
        for (seq, t) in [(1, 100), (2, 200), (3, 50)] {
            r.push(Observation::new(seq, t, Kind::Other), |o| out.push(o.seq));
        }
        r.finish(|o| out.push(o.seq));
        assert_eq!(r.late, 1);
        assert_eq!(out.len(), 3);
    }
}
