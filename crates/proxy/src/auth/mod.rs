//! Warden users: who may connect, how they prove it, and how often they may fail.
//!
//! * [`password`] — argon2id PHC hashing and verification (console, HTTP Basic, cleartext
//!   protocol logins).
//! * [`scram`] — SCRAM-SHA-256 verifiers in PostgreSQL's format, so the postgres front-end
//!   can run the SASL exchange without ever holding the password.
//! * [`directory`] — the [`UserDirectory`] built from `users:` in warden.yaml: password,
//!   bearer-token and SSH-key look-ups.
//! * [`throttle`] — the [`LoginThrottle`] every front-end consults before and after a login.
//!
//! This module must never log, audit or return a password, a token or a hash, and must
//! never let the answer time reveal whether a user name exists.

pub mod directory;
pub mod password;
pub mod scram;
pub mod throttle;

pub use directory::{AuthFailure, User, UserDirectory};
pub use scram::ScramVerifier;
pub use throttle::{LoginThrottle, ThrottleConfig, Throttled};
