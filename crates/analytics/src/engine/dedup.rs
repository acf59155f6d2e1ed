//! Suppression: after an alert, no second alert with the same detector and subject
//! until the detector's `suppress` span has passed.
//!
//! Keys are hashes of the subject (user, address, target ...); expired keys are swept,
//! so memory is bounded by the subjects alerted on within the longest suppression.

use super::fxhash::FastMap;
use crate::settings::Detector;

/// A subject key: detector plus the strings that identify the subject.
pub fn key(d: Detector, parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ (d.index() as u64);
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Suppressed keys until a time.
#[derive(Debug, Clone, Default)]
pub struct Dedup {
    until: FastMap<u64, i64>,
}

impl Dedup {
    pub fn active(&self, key: u64, now: i64) -> bool {
        self.until.get(&key).is_some_and(|t| *t > now)
    }

    pub fn mark(&mut self, key: u64, until: i64) {
        self.until.insert(key, until);
    }

    pub fn sweep(&mut self, now: i64) {
        self.until.retain(|_, t| *t > now);
    }

    pub fn len(&self) -> usize {
        self.until.len()
    }

    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }
}
