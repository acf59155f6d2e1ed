//! Sign-ins waiting for their callback: each `state` maps to the login's nonce and PKCE
//! verifier. A state is taken out when used, so it can never be used twice; it expires
//! after `login_timeout`; the table is bounded so unfinished sign-ins cannot grow it
//! without limit. Never keyed by anything but the random state.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openidconnect::{Nonce, PkceCodeVerifier};

use crate::OidcError;

/// At most this many sign-ins wait for their callback at once.
const MAX_PENDING: usize = 10_000;

/// Where to send the browser, and the state the callback will carry.
#[derive(Debug, Clone)]
pub struct LoginStart {
    /// The provider's authorization URL (state, nonce, PKCE challenge included).
    pub redirect_to: String,
    /// The login's `state`: the console may bind it to the browser (a cookie) too.
    pub state: String,
}

pub(crate) struct Pending {
    pub nonce: Nonce,
    pub verifier: PkceCodeVerifier,
    started: Instant,
}

#[derive(Default)]
pub(crate) struct PendingLogins {
    map: Mutex<HashMap<String, Pending>>,
}

impl PendingLogins {
    pub fn insert(
        &self,
        state: String,
        nonce: Nonce,
        verifier: PkceCodeVerifier,
        timeout: Duration,
    ) -> Result<(), OidcError> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_PENDING {
            map.retain(|_, p| p.started.elapsed() < timeout);
        }
        if map.len() >= MAX_PENDING {
            return Err(OidcError::TooManyLogins);
        }
        map.insert(
            state,
            Pending {
                nonce,
                verifier,
                started: Instant::now(),
            },
        );
        Ok(())
    }

    /// Take the login for `state` out (used once), if it is known and not expired.
    pub fn take(&self, state: &str, timeout: Duration) -> Result<Pending, OidcError> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(state)
            .filter(|p| p.started.elapsed() < timeout)
            .ok_or(OidcError::UnknownState)
    }
}
