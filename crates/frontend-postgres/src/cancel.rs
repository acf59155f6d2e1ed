//! Cancel keys: each client gets a BackendKeyData carrying the **real upstream backend
//! PID** (Warden runs one upstream session per client session, so `pg_backend_pid()`,
//! `pg_terminate_backend(...)` tooling and a NOTIFY's sender pid match the session as
//! they do direct) and a **secret of Warden's own**. A CancelRequest on a new connection
//! is forwarded only when pid and Warden's secret match, with the upstream's secret.
//!
//! Must never reveal upstream secrets to clients, never cancel on a key whose secret
//! does not match (compared in constant time), and never let a finished session's key
//! remove the key of a newer session that got the same (reused) upstream pid.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rand::RngCore;

/// The upstream backend a client key points at.
#[derive(Clone)]
pub struct UpstreamKey {
    pub pid: u32,
    pub secret: Vec<u8>,
}

struct Entry {
    secret: Vec<u8>,
    upstream: UpstreamKey,
    /// Which issue made this entry (see [`KeyGuard`]'s drop).
    issued: u64,
}

/// All live sessions of one listener, by upstream backend pid (the pid the client got).
#[derive(Clone, Default)]
pub struct CancelRegistry {
    inner: Arc<Mutex<HashMap<u32, Entry>>>,
    issued: Arc<AtomicU64>,
}

/// Removes its key from the registry when the session ends.
pub struct KeyGuard {
    registry: CancelRegistry,
    pub pid: u32,
    pub secret: Vec<u8>,
    issued: u64,
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        if let Ok(mut map) = self.registry.inner.lock() {
            // The upstream may already have reused this pid for a newer session: remove
            // the entry only while it is still ours.
            if map.get(&self.pid).is_some_and(|e| e.issued == self.issued) {
                map.remove(&self.pid);
            }
        }
    }
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl CancelRegistry {
    /// Issues the client's key: the upstream's pid with a fresh secret of Warden's own
    /// (4 bytes for protocol 3.0, 32 for 3.2). An older entry under the same pid belongs
    /// to a session whose backend has exited (the server reuses pids only then) and is
    /// replaced.
    pub fn issue(&self, upstream: UpstreamKey, secret_len: usize) -> KeyGuard {
        let mut secret = vec![0u8; secret_len];
        rand::thread_rng().fill_bytes(&mut secret);
        let pid = upstream.pid;
        let issued = self.issued.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut map) = self.inner.lock() {
            map.insert(
                pid,
                Entry {
                    secret: secret.clone(),
                    upstream,
                    issued,
                },
            );
        }
        // A poisoned registry only disables cancellation for this session.
        KeyGuard {
            registry: self.clone(),
            pid,
            secret,
            issued,
        }
    }

    /// The upstream key for a client's CancelRequest, when pid and secret match.
    pub fn lookup(&self, pid: u32, secret: &[u8]) -> Option<UpstreamKey> {
        let map = self.inner.lock().ok()?;
        let entry = map.get(&pid)?;
        same(&entry.secret, secret).then(|| entry.upstream.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_and_expire_with_the_session() {
        let reg = CancelRegistry::default();
        let guard = reg.issue(
            UpstreamKey {
                pid: 42,
                secret: vec![1, 2, 3, 4],
            },
            4,
        );
        assert_eq!(guard.pid, 42, "the client gets the upstream pid");
        assert_ne!(
            guard.secret,
            vec![1, 2, 3, 4],
            "but a secret of Warden's own"
        );
        let key = reg.lookup(42, &guard.secret).expect("matching key");
        assert_eq!((key.pid, key.secret), (42, vec![1, 2, 3, 4]));
        let mut wrong = guard.secret.clone();
        wrong[0] ^= 1;
        assert!(reg.lookup(42, &wrong).is_none());
        assert!(
            reg.lookup(42, &[1, 2, 3, 4]).is_none(),
            "the upstream secret is not a client key"
        );
        let secret = guard.secret.clone();
        drop(guard);
        assert!(reg.lookup(42, &secret).is_none());
    }

    #[test]
    fn a_reused_pid_keeps_the_newer_sessions_key() {
        let reg = CancelRegistry::default();
        let key = |secret: u8| UpstreamKey {
            pid: 7,
            secret: vec![secret; 4],
        };
        let old = reg.issue(key(1), 4);
        // The old backend exited and the server gave its pid to a new session before
        // the old session's guard was dropped.
        let new = reg.issue(key(2), 4);
        assert!(reg.lookup(7, &old.secret).is_none(), "the old key is gone");
        drop(old);
        let found = reg.lookup(7, &new.secret).expect("the new key survives");
        assert_eq!(found.secret, vec![2; 4]);
        drop(new);
        assert!(reg.lookup(7, &[2; 4]).is_none());
    }

    #[test]
    fn protocol_3_2_keys_are_long() {
        let reg = CancelRegistry::default();
        let guard = reg.issue(
            UpstreamKey {
                pid: 1,
                secret: vec![0; 4],
            },
            32,
        );
        assert_eq!(guard.secret.len(), 32);
    }
}
