//! # warden-proxy
//!
//! One module per protocol, each an adapter between the wire and the [`gate`]. The
//! front-ends speak their protocol's native errors so unmodified clients work.
//!
//! * [`gate`] — the one place every front-end asks what happens to an Action.
//! * [`config`] — `warden.yaml`, validated into a typed model.
//! * [`auth`] — Warden users, password/SCRAM/token/key checks, login throttling.
//! * [`frontend`] — what each protocol module gets: target, Gate, users, shutdown; the
//!   accept loop with a connection cap and graceful drain.
//! * [`reload`] — policy hot reload (file watch + SIGHUP).
//! * [`runtime`] — the gateway process: stores, Gate, listeners, drain on shutdown.
//! * [`postgres`], [`http`], [`ssh`] — the protocol front-ends.
//!
//! A front-end must never forward a request before the Gate's verdict is known, and
//! never forward a data-changing, held or denied request before its audit record is
//! durable.

#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod frontend;
pub mod gate;
pub mod http;
pub mod postgres;
pub mod reload;
pub mod runtime;
pub mod ssh;

pub use frontend::FrontendContext;
pub use gate::{Admission, Gate, GateError, Held, HoldOutcome, Refusal, RefusalKind, Ticket};
pub use tokio_util::sync::CancellationToken;
