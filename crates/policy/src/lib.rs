//! # warden-policy
//!
//! The YAML policy language (docs/policy-language.md): load, validate into a typed
//! model (every error at once, with file:line:column and the key), compile, and
//! evaluate an [`Action`](warden_inspect::Action) into a [`Verdict`] naming every rule
//! that matched. Most restrictive wins: deny > hold > allow.
//!
//! This crate must never do network I/O and never block; the only I/O is reading
//! policy files when asked to load them. It must never let an action that could not be
//! understood through by default (fail closed).

#![forbid(unsafe_code)]

pub mod verdict;

pub use verdict::{ApprovalSpec, Decision, Mode, RuleHit, Verdict};
