//! `Prefer: respond-async`: a held request answered 202 at once, its approval awaited in
//! the background, and the identical request re-sent by the same user after approval
//! run exactly once.
//!
//! The Gate hands out a [`Held`]; this module keeps it alive (dropping it would
//! withdraw the request), and parks the resulting [`Ticket`] under a key made of the
//! user, the target and the exact request text (which includes the body digest). The
//! first identical retry takes the ticket; nobody else can.
//!
//! Must never: run an approved request twice, run a request that differs from the held
//! one, or keep an unused approval forever.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use warden_inspect::Action;

use warden_gate::{Held, HoldOutcome, Refusal, Ticket};

/// How long an approved-but-not-yet-retried request stays runnable.
const APPROVED_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a refusal is remembered for the retrying client.
const REFUSED_TTL: Duration = Duration::from_secs(5 * 60);

enum Parked {
    Pending { id: String, url: String },
    Approved(Box<Ticket>),
    Refused(Refusal),
}

/// What a retried request finds.
pub enum Lookup {
    None,
    Pending { id: String, url: String },
    Approved(Box<Ticket>),
    Refused(Refusal),
}

/// Parked respond-async holds of one target.
#[derive(Default)]
pub struct AsyncHolds {
    map: Mutex<HashMap<[u8; 32], Parked>>,
}

/// The identity of "the same request": user, target, exact request text.
pub fn key(action: &Action) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [
        action.user.name.as_str(),
        action.target.name.as_str(),
        action.raw.as_str(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

impl AsyncHolds {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Parked>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a decided entry (single use) or reports a pending one.
    pub fn take(&self, key: &[u8; 32]) -> Lookup {
        let mut map = self.lock();
        match map.remove(key) {
            None => Lookup::None,
            Some(Parked::Pending { id, url }) => {
                map.insert(
                    *key,
                    Parked::Pending {
                        id: id.clone(),
                        url: url.clone(),
                    },
                );
                Lookup::Pending { id, url }
            }
            Some(Parked::Approved(t)) => Lookup::Approved(t),
            Some(Parked::Refused(r)) => Lookup::Refused(r),
        }
    }

    /// Keeps `held` waiting in the background under `key`.
    pub fn park(self: &Arc<Self>, key: [u8; 32], held: Held) {
        self.lock().insert(
            key,
            Parked::Pending {
                id: held.id.clone(),
                url: held.url.clone(),
            },
        );
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let (parked, ttl) = match held.wait().await {
                HoldOutcome::Approved(ticket) => (Parked::Approved(Box::new(ticket)), APPROVED_TTL),
                HoldOutcome::Refused(refusal) => (Parked::Refused(refusal), REFUSED_TTL),
            };
            this.lock().insert(key, parked);
            tokio::time::sleep(ttl).await;
            let stale = {
                let mut map = this.lock();
                match map.get(&key) {
                    Some(Parked::Pending { .. }) | None => None,
                    Some(_) => map.remove(&key),
                }
            };
            if let Some(Parked::Approved(ticket)) = stale {
                ticket
                    .completed(warden_audit::Outcome {
                        error: Some("approved, but the client never re-sent the request".into()),
                        ..Default::default()
                    })
                    .await;
            }
        });
    }
}
