//! Cancel keys: Warden issues its own BackendKeyData to each client and maps it to the
//! upstream backend's key, so a CancelRequest on a new connection reaches the right
//! upstream session.
//!
//! Must never reveal upstream keys to clients, and never cancel on a key whose secret
//! does not match (compared in constant time).

use std::collections::HashMap;
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
}

/// All live sessions of one listener, by the pid Warden gave the client.
#[derive(Clone, Default)]
pub struct CancelRegistry {
    inner: Arc<Mutex<HashMap<u32, Entry>>>,
}

/// Removes its key from the registry when the session ends.
pub struct KeyGuard {
    registry: CancelRegistry,
    pub pid: u32,
    pub secret: Vec<u8>,
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        if let Ok(mut map) = self.registry.inner.lock() {
            map.remove(&self.pid);
        }
    }
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl CancelRegistry {
    /// Issues a fresh client key (4-byte secret for protocol 3.0, 32 bytes for 3.2).
    pub fn issue(&self, upstream: UpstreamKey, secret_len: usize) -> KeyGuard {
        let mut rng = rand::thread_rng();
        let mut secret = vec![0u8; secret_len];
        rng.fill_bytes(&mut secret);
        let Ok(mut map) = self.inner.lock() else {
            // A poisoned registry only disables cancellation for this session.
            return KeyGuard {
                registry: self.clone(),
                pid: 0,
                secret,
            };
        };
        let pid = loop {
            let pid = rng.next_u32() & 0x7fff_ffff;
            if pid != 0 && !map.contains_key(&pid) {
                break pid;
            }
        };
        map.insert(
            pid,
            Entry {
                secret: secret.clone(),
                upstream,
            },
        );
        KeyGuard {
            registry: self.clone(),
            pid,
            secret,
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
        assert_eq!(
            reg.lookup(guard.pid, &guard.secret).map(|k| k.pid),
            Some(42)
        );
        let mut wrong = guard.secret.clone();
        wrong[0] ^= 1;
        assert!(reg.lookup(guard.pid, &wrong).is_none());
        let pid = guard.pid;
        let secret = guard.secret.clone();
        drop(guard);
        assert!(reg.lookup(pid, &secret).is_none());
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
