//! The identity provider as the console uses it: discovered now or later. `warden serve`
//! must start (and local users sign in) while the provider is unreachable, so discovery
//! is retried in the background until it succeeds. This module must never hand out a
//! provider that was not discovered, and never retry faster than `discovery_retry`.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::{OidcProvider, OidcSettings};

/// The configured provider; [`SingleSignOn::provider`] is `None` until discovery
/// succeeded.
pub struct SingleSignOn {
    settings: OidcSettings,
    provider: RwLock<Option<Arc<OidcProvider>>>,
}

impl SingleSignOn {
    pub fn new(settings: OidcSettings) -> SingleSignOn {
        SingleSignOn {
            settings,
            provider: RwLock::new(None),
        }
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// The provider's name for the login page ("Sign in with <name>").
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// The discovered provider, or `None` while it could not be reached yet.
    pub fn provider(&self) -> Option<Arc<OidcProvider>> {
        self.provider
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Fetch the discovery document and keys until that works (a clear log line per
    /// failed attempt, then one when it worked), or until `stop` completes.
    pub async fn discover_until_ready(&self, stop: impl Future<Output = ()>) {
        let retry = self.settings.discovery_retry.max(Duration::from_secs(1));
        tokio::pin!(stop);
        loop {
            match OidcProvider::discover(self.settings.clone()).await {
                Ok(p) => {
                    *self.provider.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(p));
                    tracing::info!(issuer = %self.settings.issuer, "single sign-on ready: identity provider discovered");
                    return;
                }
                Err(e) => tracing::warn!(
                    error = %e,
                    retry_in_secs = retry.as_secs(),
                    "single sign-on unavailable: cannot reach the identity provider; local users can still sign in, trying again"
                ),
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(retry) => {}
            }
        }
    }
}
