//! # warden-approval
//!
//! The state machine every protocol holds against: a held Action becomes a pending
//! request bound to the exact action bytes, user, target and session; approvers decide;
//! the holder awaits the outcome without polling.
//!
//! pending → approved | denied | expired | withdrawn; approved → executed (once).
//!
//! This crate must never let a requester approve their own request, never count one
//! person twice, never hand out an approval more than once, and never execute a request
//! whose client went away.

#![forbid(unsafe_code)]
