//! Refused public keys, one connection at a time: OpenSSH offers every key it has until
//! one is accepted, so a refused offer (the key is not authorised for that user, or the
//! user does not exist) is audited as an `auth_failed` record with `method=publickey`
//! and the key's SHA-256 fingerprint — the first [`RECORDED_PER_CONNECTION`] of them;
//! the rest are counted and written as one record when the connection ends.
//!
//! Must never record more than that per connection (a client offering keys in a loop
//! must not flood the audit log), never record key material beyond the fingerprint,
//! and never change what the client is told (refused keys all look the same to it).

use std::sync::{Arc, Mutex};

use russh::keys::{HashAlg, PublicKey};

/// Refused offers recorded one by one on a connection; later ones are only counted.
pub const RECORDED_PER_CONNECTION: usize = 5;

#[derive(Debug, Default)]
struct Tally {
    refused: usize,
    /// The user name of the last refused offer (the summary's actor).
    last_user: String,
}

/// The refused key offers of one connection. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct RefusedOffers {
    tally: Arc<Mutex<Tally>>,
}

/// The `<reason>` of one refused offer's `auth_failed` record.
pub fn reason(key: &PublicKey, user_known: bool) -> String {
    let fingerprint = key.fingerprint(HashAlg::Sha256);
    if user_known {
        format!("public key not authorized ({fingerprint})")
    } else {
        format!("unknown user ({fingerprint})")
    }
}

impl RefusedOffers {
    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        // A poisoned tally is still a count.
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Count one refused offer by `user`; `true` when it is to be recorded on its own.
    pub fn refused(&self, user: &str) -> bool {
        let mut t = self.tally();
        t.refused += 1;
        t.last_user = user.to_string();
        t.refused <= RECORDED_PER_CONNECTION
    }

    /// At the end of the connection: the user and `<reason>` of the summary record of
    /// the offers not recorded one by one, if there were any.
    pub fn summary(&self) -> Option<(String, String)> {
        let t = self.tally();
        let more = t.refused.checked_sub(RECORDED_PER_CONNECTION)?;
        (more > 0).then(|| {
            (
                t.last_user.clone(),
                format!(
                    "{more} more refused public keys on this connection (after the first {RECORDED_PER_CONNECTION}, counted, not recorded one by one)"
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_offers_are_recorded_and_the_rest_counted() {
        let offers = RefusedOffers::default();
        assert_eq!(offers.summary(), None);
        let recorded = (0..RECORDED_PER_CONNECTION + 3)
            .filter(|i| offers.clone().refused(&format!("u{i}")))
            .count();
        assert_eq!(recorded, RECORDED_PER_CONNECTION);
        let (user, why) = offers.summary().expect("a summary");
        assert_eq!(user, format!("u{}", RECORDED_PER_CONNECTION + 2));
        assert!(why.starts_with("3 more refused public keys"), "{why}");
    }
}
