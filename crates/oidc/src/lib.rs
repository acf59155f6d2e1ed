//! OpenID Connect single sign-on for Warden: a person signs in at the organisation's
//! identity provider instead of with a password kept in `warden.yaml`.
//!
//! * [`OidcSettings`] — the `oidc:` section of `warden.yaml` (issuer, client, redirect
//!   URL, which claims name the user and the groups, groups → Warden roles), validated by
//!   `warden-config`.
//! * [`OidcProvider`] — discovery and the provider's signing keys (JWKS, fetched again
//!   when a token names a key it does not know), then the authorization code flow with
//!   PKCE (S256): [`OidcProvider::begin`] makes the provider URL and remembers the
//!   login's state, nonce and PKCE verifier; [`OidcProvider::finish`] takes the callback's
//!   `state` and `code` — a state is used once, within `login_timeout` — exchanges the
//!   code and validates the ID token (signature, issuer, audience, expiry, nonce).
//! * [`Identity`] — who signed in and the roles their groups map to.
//! * [`SingleSignOn`] — the provider once discovered: `warden serve` starts while the
//!   provider is unreachable and keeps trying its discovery document.
//!
//! This crate must never accept an ID token it has not verified against the provider's
//! published keys, never reuse a login state, and never admit a person whose groups map
//! to no role. It keeps no session: the console decides what a signed-in identity gets.

#![forbid(unsafe_code)]

mod error;
mod identity;
mod login;
mod provider;
mod sso;

pub use error::{OidcError, TokenRejection};
pub use identity::Identity;
pub use login::LoginStart;
pub use provider::{OidcProvider, SignedIn};
pub use sso::SingleSignOn;
pub use warden_config::OidcConfig as OidcSettings;
