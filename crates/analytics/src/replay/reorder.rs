//! A bounded reorder buffer: records are released in time order once the newest time
//! read is `lag` ahead of them, or when the buffer is full.
//!
//! Sorted input (an export) holds only `lag` worth of records, so memory stays flat
//! however long the file; input out of order by less than `lag` (and `capacity`
//! records) is replayed exactly in time order. A record that arrives after later ones
//! were released is "late": the engine counts it at its clock's current time.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

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

/// The buffer: records that arrive in order queue up in `run` (cheap); only those that
/// arrive out of order go through the heap (boxed, so sifting moves pointers).
pub struct Reorder {
    run: VecDeque<Pending>,
    heap: BinaryHeap<Box<Pending>>,
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
            run: VecDeque::new(),
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
        let p = Pending {
            time: obs.time,
            order: self.order,
            obs: obs.into_owned(),
        };
        if self.run.back().is_none_or(|b| b.time <= p.time) {
            self.run.push_back(p);
        } else {
            self.heap.push(Box::new(p));
        }
        let horizon = self.newest.saturating_sub(self.lag);
        let capacity = self.capacity;
        while let Some(p) = self.pop_if(|earliest, held| earliest <= horizon || held > capacity) {
            release(p);
        }
    }

    /// The earliest held record, when `due(its time, records held)` says so.
    fn pop_if(&mut self, due: impl Fn(i64, usize) -> bool) -> Option<Observation<'static>> {
        let held = self.run.len() + self.heap.len();
        let from_run = match (self.run.front(), self.heap.peek()) {
            (Some(r), Some(h)) => (r.time, r.order) <= (h.time, h.order),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        let (time, obs) = if from_run {
            let r = self.run.front()?;
            if !due(r.time, held) {
                return None;
            }
            let p = self.run.pop_front()?;
            (p.time, p.obs)
        } else {
            let h = self.heap.peek()?;
            if !due(h.time, held) {
                return None;
            }
            let p = self.heap.pop()?;
            (p.time, p.obs)
        };
        self.released = self.released.max(time);
        Some(obs)
    }

    /// Release everything left, in time order.
    pub fn finish(&mut self, mut release: impl FnMut(Observation<'static>)) {
        while let Some(p) = self.pop_if(|_, _| true) {
            release(p);
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
