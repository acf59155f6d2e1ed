//! # warden-approval
//!
//! The state machine every protocol holds against: a held Action becomes a pending
//! request bound to the exact action bytes, user, target and session; approvers decide;
//! the holder awaits the outcome without polling.
//!
//! pending → approved | denied | expired | withdrawn; approved → executed (once).
//!
//! * `machine` — the pure rules (who may decide, N-of-M, single use, expiry).
//! * `approvals` — the shared handle: locking, audit, persistence, timers, live feed.
//! * `held` — what a waiting front-end holds; dropping it withdraws the request.
//! * `store` — sled persistence; `stats` — counters for `/metrics`.
//! * `fleet` — the shared PostgreSQL store of fleet mode (docs/fleet.md): conditional
//!   transitions, a LISTEN/NOTIFY-fed read cache, the sweeper of dead replicas' requests.
//!
//! This crate must never let a requester approve their own request, never count one
//! person twice, never hand out an approval more than once, and never execute a request
//! whose client went away.

#![forbid(unsafe_code)]

mod approvals;
mod error;
mod fleet;
mod held;
mod machine;
mod recover;
mod request;
mod stats;
mod store;

pub use approvals::Approvals;
pub use error::ApprovalError;
pub use held::Held;
pub use machine::entitled;
pub use request::{
    describe_approvers, ApprovalRequest, ApprovalState, Decided, FleetInfo, Resolution,
};
pub use stats::{HistogramSnapshot, StatsSnapshot, APPEND_BUCKETS, DECISION_BUCKETS};
pub use store::ApprovalBackend;
