//! Warden users: who may connect, how they prove it, and how often they may fail.
//!
//! * [`password`] — argon2id PHC hashing and verification (console, HTTP Basic, cleartext
//!   protocol logins).
//! * SCRAM-SHA-256 verifiers ([`ScramVerifier`], PostgreSQL's format) are user records
//!   and live in `warden-config`; re-exported here for the front-ends.
//! * [`directory`] — the [`UserDirectory`] built from `users:` in warden.yaml: password,
//!   bearer-token and SSH-key look-ups.
//! * [`gateway_tokens`] — short-lived tokens minted in the console, taken by the
//!   gateways as bearer tokens and PostgreSQL passwords.
//! * [`throttle`] — the [`LoginThrottle`] every front-end consults before and after a login.
//!
//! This module must never log, audit or return a password, a token or a hash, and must
//! never let the answer time reveal whether a user name exists.

pub mod directory;
pub mod gateway_tokens;
mod gateway_tokens_file;
pub mod password;
pub mod throttle;

pub use directory::{AuthFailure, ScramChoice, TokenLogin, UserDirectory};
pub use gateway_tokens::{
    is_gateway_token, GatewayTokens, MintError, Minted, TokenInfo, TokenRefusal, TOKEN_PREFIX,
};
pub use throttle::{LockNotice, LoginLocks, LoginThrottle, ThrottleConfig, Throttled};
pub use warden_config::scram::{self, ScramVerifier};
pub use warden_config::users::{normalize_ssh_key, token_hash, User};

mod login_record;
pub use login_record::{
    attempt_actor, failure_detail, success_detail, token_detail, token_failure_detail, LoginMethod,
};
