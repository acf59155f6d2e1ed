//! # warden-app
//!
//! The composition root: the one crate that knows every part and wires them.
//!
//! * [`alerts`] — behaviour analytics live: the runner on the audit feed, the alert
//!   book (console, login locks).
//! * [`stores`] — open the audit log and the approvals store (the embedded backend).
//! * [`registry`] — `Protocol → Frontend`, the only place naming every front-end.
//! * [`runtime`] — stores → Gate → bind every target → front-ends → reloaders;
//!   drain and seal on stop.
//! * [`gateway`] — the runtime plus the web console (HTTP or HTTPS, [`web_tls`]), run
//!   until a signal; what `warden serve` and `warden demo` run and what tests start.
//! * [`reload`] — policy hot reload (file watch + SIGHUP).
//! * [`config_reload`] — warden.yaml hot reload of Warden's users (file watch + SIGHUP);
//!   other sections are reported as needing a restart.
//! * [`drift`] — configuration drift: hashes of the files in force, `config-drift`
//!   alerts for unreviewed policy edits.
//! * [`demo`] and [`sample_api`] — `warden demo`'s generated setup and embedded upstream.
//!
//! Must never start a front-end before the audit log is open, never let a front-end
//! build its own Gate or store, and never report a clean stop when the final checkpoint
//! could not be written.

#![forbid(unsafe_code)]

pub mod alerts;
pub mod config_reload;
pub mod demo;
pub mod drift;
mod fleet_audit;
pub mod gateway;
pub mod registry;
pub mod reload;
pub mod runtime;
pub mod sample_api;
mod signals;
pub mod stores;
pub mod web_tls;

pub use gateway::{Gateway, RunError, Started};
pub use runtime::{Running, StartError};
