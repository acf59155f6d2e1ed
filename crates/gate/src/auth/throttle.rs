//! Login throttling, per user name and per client IP.
//!
//! After `max_failures` failures within `window`, further attempts for that user or
//! that IP are refused for `lockout`; failures before that are answered after a growing
//! delay. Front-ends call [`LoginThrottle::check`] before verifying a secret, then
//! [`LoginThrottle::failure`] or [`LoginThrottle::success`], and audit `AuthFailed`
//! with the reason. Must never grow without bound: old entries are pruned.
//!
//! Behaviour analytics can lock a user or an address for a while (a detector's `lock`):
//! the app installs its [`LoginLocks`] once, and [`LoginThrottle::check`] refuses those
//! logins too, on every front-end and the console, with the alert named.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Throttle limits.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleConfig {
    pub max_failures: u32,
    pub window: Duration,
    pub lockout: Duration,
    /// Delay added per failure before answering (capped at 2 s).
    pub delay_step: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            max_failures: 5,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(300),
            delay_step: Duration::from_millis(250),
        }
    }
}

/// The caller is locked out for `retry_after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after: Duration,
    /// Set when an alert's lock refused the login: which alert, and how to lift it.
    pub locked_by: Option<String>,
}

impl Throttled {
    /// What the client is told.
    pub fn message(&self) -> String {
        let secs = self.retry_after.as_secs().max(1);
        match &self.locked_by {
            Some(why) => format!("login refused: {why}; retry in {secs}s"),
            None => format!("too many failed logins; retry in {secs}s"),
        }
    }

    /// What the audit record says.
    pub fn audit_reason(&self) -> String {
        let secs = self.retry_after.as_secs();
        match &self.locked_by {
            Some(why) => format!("locked ({secs}s): {why}"),
            None => format!("throttled ({secs}s)"),
        }
    }
}

/// A lock in force on a user or an address (from an alert).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockNotice {
    pub retry_after: Duration,
    /// Names the alert and how to lift it.
    pub reason: String,
}

/// Locks raised by behaviour analytics, consulted before every login.
pub trait LoginLocks: Send + Sync + std::fmt::Debug {
    /// The lock on `user` or on `ip` in force now, if any (the longest one).
    fn locked(&self, user: &str, ip: Option<IpAddr>) -> Option<LockNotice>;
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Ip(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    window_start: Instant,
    failures: u32,
    locked_until: Option<Instant>,
}

/// Shared by every front-end (`Arc<LoginThrottle>` in the FrontendContext).
#[derive(Debug)]
pub struct LoginThrottle {
    config: ThrottleConfig,
    entries: Mutex<HashMap<Key, Entry>>,
    locks: OnceLock<Arc<dyn LoginLocks>>,
}

const PRUNE_AT: usize = 10_000;

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle::new(ThrottleConfig::default())
    }
}

impl LoginThrottle {
    pub fn new(config: ThrottleConfig) -> LoginThrottle {
        LoginThrottle {
            config,
            entries: Mutex::new(HashMap::new()),
            locks: OnceLock::new(),
        }
    }

    /// Install the analytics locks (once; later calls are ignored).
    pub fn set_locks(&self, locks: Arc<dyn LoginLocks>) {
        let _ = self.locks.set(locks);
    }

    fn keys(user: &str, ip: Option<IpAddr>) -> impl Iterator<Item = Key> {
        std::iter::once(Key::User(user.to_owned())).chain(ip.map(Key::Ip))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        // A poisoned map only holds counters; keep using it rather than failing open.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Refuse when the user or the IP is locked out (by an alert's lock or by too many
    /// failures).
    pub fn check(&self, user: &str, ip: Option<IpAddr>) -> Result<(), Throttled> {
        if let Some(notice) = self.locks.get().and_then(|l| l.locked(user, ip)) {
            return Err(Throttled {
                retry_after: notice.retry_after,
                locked_by: Some(notice.reason),
            });
        }
        let now = Instant::now();
        let map = self.lock();
        let mut worst: Option<Duration> = None;
        for key in Self::keys(user, ip) {
            if let Some(until) = map.get(&key).and_then(|e| e.locked_until) {
                if until > now {
                    let left = until - now;
                    worst = Some(worst.map_or(left, |w| w.max(left)));
                }
            }
        }
        match worst {
            Some(retry_after) => Err(Throttled {
                retry_after,
                locked_by: None,
            }),
            None => Ok(()),
        }
    }

    /// Record a failure; returns how long the front-end should wait before answering.
    pub fn failure(&self, user: &str, ip: Option<IpAddr>) -> Duration {
        let now = Instant::now();
        let cfg = self.config;
        let mut map = self.lock();
        if map.len() >= PRUNE_AT {
            map.retain(|_, e| {
                now.duration_since(e.window_start) < cfg.window
                    || e.locked_until.is_some_and(|u| u > now)
            });
        }
        let mut most = 0u32;
        for key in Self::keys(user, ip) {
            let entry = map.entry(key).or_insert(Entry {
                window_start: now,
                failures: 0,
                locked_until: None,
            });
            if now.duration_since(entry.window_start) >= cfg.window {
                entry.window_start = now;
                entry.failures = 0;
            }
            entry.failures = entry.failures.saturating_add(1);
            if entry.failures >= cfg.max_failures {
                entry.locked_until = Some(now + cfg.lockout);
            }
            most = most.max(entry.failures);
        }
        (cfg.delay_step * most).min(Duration::from_secs(2))
    }

    /// A successful login clears the user's counter (not the IP's: one good password
    /// must not reset a spray from the same address).
    pub fn success(&self, user: &str) {
        self.lock().remove(&Key::User(user.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> LoginThrottle {
        LoginThrottle::new(ThrottleConfig {
            max_failures: 3,
            window: Duration::from_secs(60),
            lockout: Duration::from_millis(200),
            delay_step: Duration::from_millis(10),
        })
    }

    /// Locks mallory and anyone from 10.9.9.9, as an alert's lock would.
    #[derive(Debug)]
    struct AlertLocks;

    impl LoginLocks for AlertLocks {
        fn locked(&self, user: &str, ip: Option<IpAddr>) -> Option<LockNotice> {
            let by_ip = ip == Some("10.9.9.9".parse().expect("ip"));
            (user == "mallory" || by_ip).then(|| LockNotice {
                retry_after: Duration::from_secs(900),
                reason: "alert al-1 (failed-login-burst) locks this login".into(),
            })
        }
    }

    #[test]
    fn an_alert_lock_refuses_the_login_and_says_which_alert() {
        let t = quick();
        assert!(t.check("mallory", None).is_ok(), "no locks installed yet");
        t.set_locks(std::sync::Arc::new(AlertLocks));
        let err = t.check("mallory", None).expect_err("locked by the alert");
        assert_eq!(err.retry_after, Duration::from_secs(900));
        assert!(err.message().contains("al-1"), "{}", err.message());
        assert!(err.message().contains("retry in 900s"), "{}", err.message());
        assert!(err.audit_reason().starts_with("locked (900s)"));
        let ip: IpAddr = "10.9.9.9".parse().expect("ip");
        assert!(t.check("alice", Some(ip)).is_err(), "address lock");
        assert!(t.check("alice", None).is_ok(), "others still log in");
        // Plain throttling still reads as before.
        for _ in 0..3 {
            t.failure("bob", None);
        }
        let err = t.check("bob", None).expect_err("throttled");
        assert!(err.locked_by.is_none());
        assert!(err.message().starts_with("too many failed logins"));
    }

    #[test]
    fn locks_user_after_failures_then_unlocks() {
        let t = quick();
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        assert!(t.check("alice", Some(ip)).is_ok());
        assert_eq!(t.failure("alice", Some(ip)), Duration::from_millis(10));
        assert_eq!(t.failure("alice", Some(ip)), Duration::from_millis(20));
        assert!(t.check("alice", Some(ip)).is_ok());
        t.failure("alice", Some(ip));
        let err = t.check("alice", None).expect_err("locked");
        assert!(err.retry_after <= Duration::from_millis(200));
        // The IP is locked for other names too.
        assert!(t.check("bob", Some(ip)).is_err());
        assert!(t
            .check("bob", Some("10.0.0.2".parse().expect("ip")))
            .is_ok());
        std::thread::sleep(Duration::from_millis(250));
        assert!(t.check("alice", Some(ip)).is_ok());
    }

    #[test]
    fn success_resets_user_only() {
        let t = quick();
        let ip: IpAddr = "10.0.0.9".parse().expect("ip");
        t.failure("carol", Some(ip));
        t.failure("carol", Some(ip));
        t.success("carol");
        t.failure("carol", None);
        assert!(t.check("carol", None).is_ok());
        t.failure("dave", Some(ip));
        assert!(
            t.check("erin", Some(ip)).is_err(),
            "ip counter kept across users"
        );
    }
}
