//! # warden-gate
//!
//! The one decision point every protocol front-end (and the web console's logins) goes
//! through, and the kit front-ends are built from:
//!
//! * [`Gate`] — `decide(Action) -> Admission` (`Allow(Ticket)`, `Deny(Refusal)`,
//!   `Hold(Held)`), durable-before-forward auditing, decision statistics.
//! * [`auth`] — Warden users at run time: the [`UserDirectory`](auth::UserDirectory)
//!   (argon2 passwords, SCRAM verifiers, bearer tokens, SSH keys) and the
//!   [`LoginThrottle`](auth::LoginThrottle); the one password path for every front-end
//!   and the console.
//! * [`frontend`] — what a front-end is given ([`FrontendContext`]), the [`Frontend`]
//!   trait the app's registry holds, the shared accept loop with a connection cap and
//!   drain, and the session-event helpers (connection, login, session records).
//!
//! This crate must never parse a wire protocol, name a storage engine (sled or any
//! other: stores arrive as handles), or name a front-end.

#![forbid(unsafe_code)]

pub mod auth;
pub mod frontend;
mod gate;
mod repeat;

pub use frontend::{Frontend, FrontendContext};
pub use gate::{
    action_event, needs_durable_record, verdict_summary, Admission, Gate, GateError, GateStats,
    Held, HoldOutcome, OpenAlerts, Refusal, RefusalKind, Ticket,
};
pub use repeat::Repeat;
pub use tokio_util::sync::CancellationToken;
