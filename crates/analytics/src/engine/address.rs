//! Per client address: which user names failed to log in from it recently (password
//! spraying) and which users log in from it successfully (a shared office or VPN exit
//! is not a new source for anyone).
//!
//! Both maps are capped per address; idle addresses are dropped by the engine's sweep.

use super::fxhash::FastMap;
use crate::settings::span::DAY;
use crate::stats::evidence::Evidence;

/// Most user names remembered per address in each map.
pub const MAX_NAMES: usize = 128;

/// One client address.
#[derive(Debug, Clone, Default)]
pub struct AddressState {
    /// User name -> last failed login from here.
    pub failed: FastMap<Box<str>, i64>,
    pub failed_evidence: Evidence,
    /// User -> (first, last) successful login or action from here.
    pub users: FastMap<Box<str>, (i64, i64)>,
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
        if let Some((_, last)) = self.users.get_mut(user) {
            *last = now;
            return;
        }
        if self.users.len() >= MAX_NAMES {
            if let Some(k) = self
                .users
                .iter()
                .min_by(|a, b| (a.1).1.cmp(&(b.1).1).then_with(|| a.0.cmp(b.0)))
                .map(|(k, _)| k.clone())
            {
                self.users.remove(&k);
            }
        }
        self.users.insert(user.into(), (now, now));
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

    /// Users other than `user` who use this address as a habit: active from it since
    /// `since`, on days at least a day apart (a one-off visit, such as an intruder's,
    /// does not make an address theirs).
    pub fn regulars_since<'a>(
        &'a self,
        user: &'a str,
        since: i64,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.users
            .iter()
            .filter(move |(u, (first, last))| {
                &***u != user && *last >= since && *last - *first >= DAY
            })
            .map(|(u, _)| &**u)
    }

    pub fn forget_before(&mut self, failed_since: i64, users_since: i64) {
        self.failed.retain(|_, t| *t >= failed_since);
        self.failed_evidence.prune(failed_since);
        self.users.retain(|_, (_, last)| *last >= users_since);
    }

    pub fn is_empty(&self) -> bool {
        self.failed.is_empty() && self.users.is_empty()
    }
}

fn insert_capped(map: &mut FastMap<Box<str>, i64>, key: &str, now: i64) {
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
