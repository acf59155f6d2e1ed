//! Per client address: which user names failed to log in from it recently (password
//! spraying) and which users log in from it successfully (a shared office or VPN exit
//! is not a new source for anyone).
//!
//! Both maps are capped per address; idle addresses are dropped by the engine's sweep.

use std::collections::HashMap;

use crate::stats::evidence::Evidence;

/// Most user names remembered per address in each map.
pub const MAX_NAMES: usize = 128;

/// One client address.
#[derive(Debug, Clone, Default)]
pub struct AddressState {
    /// User name -> last failed login from here.
    pub failed: HashMap<Box<str>, i64>,
    pub failed_evidence: Evidence,
    /// User -> last successful login or action from here.
    pub users: HashMap<Box<str>, i64>,
    pub last: i64,
}

impl AddressState {
    pub fn fail(&mut self, user: &str, now: i64, seq: u64) {
        self.last = now;
        self.failed_evidence.push(now, seq);
        insert_capped(&mut self.failed, user, now);
    }

    pub fn succeed(&mut self, user: &str, now: i64) {
        self.last = now;
        insert_capped(&mut self.users, user, now);
    }

    /// Distinct names that failed since `since`, sorted.
    pub fn failed_since(&self, since: i64) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .failed
            .iter()
            .filter(|(_, t)| **t >= since)
            .map(|(u, _)| &**u)
            .collect();
        v.sort_unstable();
        v
    }

    /// Users other than `user` who used this address successfully since `since`.
    pub fn other_users_since(&self, user: &str, since: i64) -> usize {
        self.users
            .iter()
            .filter(|(u, t)| &***u != user && **t >= since)
            .count()
    }

    pub fn forget_before(&mut self, failed_since: i64, users_since: i64) {
        self.failed.retain(|_, t| *t >= failed_since);
        self.failed_evidence.prune(failed_since);
        self.users.retain(|_, t| *t >= users_since);
    }

    pub fn is_empty(&self) -> bool {
        self.failed.is_empty() && self.users.is_empty()
    }
}

fn insert_capped(map: &mut HashMap<Box<str>, i64>, key: &str, now: i64) {
    if let Some(t) = map.get_mut(key) {
        *t = now;
        return;
    }
    if map.len() >= MAX_NAMES {
        if let Some(k) = map
            .iter()
            .min_by(|a, b| a.1.cmp(b.1).then_with(|| a.0.cmp(b.0)))
            .map(|(k, _)| k.clone())
        {
            map.remove(&k);
        }
    }
    map.insert(key.into(), now);
}
