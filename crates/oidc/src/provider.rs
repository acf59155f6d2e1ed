//! One identity provider: its discovery document and signing keys, and the
//! authorization code flow with PKCE against it. It must never accept an ID token whose
//! signature, issuer, audience, expiry or nonce does not check out, and never fetch the
//! provider's keys more often than `jwks_refresh_min` however many unknown key ids
//! arrive.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IdToken, IssuerUrl, Nonce, PkceCodeChallenge, RedirectUrl, Scope,
    TokenResponse,
};
use serde::{Deserialize, Serialize};

use crate::login::PendingLogins;
use crate::{Identity, LoginStart, OidcError, OidcSettings};

/// The claims the standard types do not name (`groups`, a custom username claim…).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(transparent)]
struct OtherClaims(HashMap<String, serde_json::Value>);

impl AdditionalClaims for OtherClaims {}

type WardenIdToken = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// A client built from the discovery document: authorization endpoint set, token and
/// userinfo endpoints as the provider publishes them.
type DiscoveredClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

struct Discovered {
    client: DiscoveredClient,
    fetched: Instant,
}

/// A finished sign-in: who it is, and the verified ID token (for a later logout hint).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub identity: Identity,
    pub id_token: String,
}

/// The identity provider, discovered. Cheap to share behind an `Arc`.
pub struct OidcProvider {
    settings: OidcSettings,
    http: openidconnect::reqwest::Client,
    discovered: RwLock<Discovered>,
    pending: PendingLogins,
    clock: Clock,
}

impl OidcProvider {
    /// Fetch the provider's discovery document and keys.
    pub async fn discover(settings: OidcSettings) -> Result<OidcProvider, OidcError> {
        // No redirects: a discovery or token response must come from the URL asked.
        let http = openidconnect::reqwest::Client::builder()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| discovery_error(&settings, e))?;
        let client = fetch_client(&settings, &http).await?;
        Ok(OidcProvider {
            settings,
            http,
            discovered: RwLock::new(Discovered {
                client,
                fetched: Instant::now(),
            }),
            pending: PendingLogins::default(),
            clock: Arc::new(Utc::now),
        })
    }

    /// Use `clock` for "now" when checking a token's expiry (tests; a skewed host).
    pub fn with_clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    fn client(&self) -> DiscoveredClient {
        self.discovered
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .client
            .clone()
    }

    /// Start a sign-in: the provider URL to send the browser to, with a fresh state,
    /// nonce and PKCE (S256) challenge; the state is remembered until the callback.
    pub fn begin(&self) -> Result<LoginStart, OidcError> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = self.client();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in &self.settings.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let state = state.secret().clone();
        self.pending
            .insert(state.clone(), nonce, verifier, self.settings.login_timeout)?;
        Ok(LoginStart {
            redirect_to: url.to_string(),
            state,
        })
    }

    /// Finish a sign-in from the callback's `state` and `code`: the state is used up
    /// (even when what follows fails), the code exchanged with the PKCE verifier, the ID
    /// token verified, and the person's groups mapped to roles.
    pub async fn finish(&self, state: &str, code: &str) -> Result<SignedIn, OidcError> {
        let pending = self.pending.take(state, self.settings.login_timeout)?;
        let client = self.client();
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::TokenExchange(e.to_string()))?
            .set_pkce_verifier(pending.verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::TokenExchange(token_error(&e)))?;
        let raw = response.id_token().ok_or(OidcError::NoIdToken)?.to_string();
        let identity = self.verify_id_token(&raw, pending.nonce.secret()).await?;
        Ok(SignedIn {
            identity,
            id_token: raw,
        })
    }

    /// The callback carried `error` instead of a code (the person cancelled, the
    /// provider refused): the state is used up all the same, and the error says why.
    pub fn fail(&self, state: &str, error: &str, description: Option<&str>) -> OidcError {
        if let Err(e) = self.pending.take(state, self.settings.login_timeout) {
            return e;
        }
        let clean = |s: &str| {
            s.chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect::<String>()
        };
        OidcError::Provider(match description {
            Some(d) => format!("{} ({})", clean(error), clean(d)),
            None => clean(error),
        })
    }

    /// Verify an ID token (signature against the provider's keys, fetched again once if
    /// the token names an unknown key; issuer; audience = this client; expiry; `nonce`)
    /// and map it to an [`Identity`].
    pub async fn verify_id_token(&self, raw: &str, nonce: &str) -> Result<Identity, OidcError> {
        let token: WardenIdToken =
            raw.parse()
                .map_err(|e: serde_json::Error| OidcError::IdToken {
                    kind: crate::TokenRejection::Malformed,
                    detail: format!("not a JWT ID token: {e}"),
                })?;
        let claims = match self.check(&token, nonce) {
            Err(e) if crate::TokenRejection::unknown_key(&e) && self.refresh_keys().await? => {
                self.check(&token, nonce)
            }
            other => other,
        }
        .map_err(|e| OidcError::id_token(&e))?;
        Identity::from_claims(&self.settings, &claims)
    }

    fn check(
        &self,
        token: &WardenIdToken,
        nonce: &str,
    ) -> Result<serde_json::Value, openidconnect::ClaimsVerificationError> {
        let client = self.client();
        let clock = self.clock.clone();
        let verifier = client.id_token_verifier().set_time_fn(move || clock());
        let expected = Nonce::new(nonce.to_string());
        let claims = token.claims(&verifier, &expected)?;
        serde_json::to_value(claims)
            .map_err(|e| openidconnect::ClaimsVerificationError::Other(e.to_string()))
    }

    /// Fetch the discovery document and keys again, unless that was done less than
    /// `jwks_refresh_min` ago. `Ok(true)` when the keys were fetched.
    async fn refresh_keys(&self) -> Result<bool, OidcError> {
        {
            let d = self.discovered.read().unwrap_or_else(|e| e.into_inner());
            if d.fetched.elapsed() < self.settings.jwks_refresh_min {
                return Ok(false);
            }
        }
        let client = fetch_client(&self.settings, &self.http).await?;
        tracing::info!(issuer = %self.settings.issuer, "identity provider keys fetched again (unknown key id)");
        *self.discovered.write().unwrap_or_else(|e| e.into_inner()) = Discovered {
            client,
            fetched: Instant::now(),
        };
        Ok(true)
    }
}

async fn fetch_client(
    settings: &OidcSettings,
    http: &openidconnect::reqwest::Client,
) -> Result<DiscoveredClient, OidcError> {
    let issuer =
        IssuerUrl::new(settings.issuer.clone()).map_err(|e| discovery_error(settings, e))?;
    let metadata = CoreProviderMetadata::discover_async(issuer, http)
        .await
        .map_err(|e| discovery_error(settings, e))?;
    let redirect = RedirectUrl::new(settings.redirect_url.clone())
        .map_err(|e| discovery_error(settings, e))?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(settings.client_id.clone()),
        settings
            .client_secret
            .as_ref()
            .map(|s| ClientSecret::new(s.expose().to_owned())),
    )
    .set_redirect_uri(redirect))
}

fn discovery_error(settings: &OidcSettings, e: impl std::fmt::Display) -> OidcError {
    OidcError::Discovery {
        issuer: settings.issuer.clone(),
        reason: e.to_string(),
    }
}

/// The provider's `error` / `error_description` when it sent one, else the error.
fn token_error<RE: std::error::Error + 'static, T: openidconnect::ErrorResponse + 'static>(
    e: &openidconnect::RequestTokenError<RE, T>,
) -> String {
    match e {
        openidconnect::RequestTokenError::ServerResponse(r) => r.to_string(),
        other => other.to_string(),
    }
}
