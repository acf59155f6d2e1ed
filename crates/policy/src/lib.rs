//! # warden-policy
//!
//! The YAML policy language (docs/policy-language.md): load, validate into a typed
//! model (every error at once, with file:line:column and the key), compile, and
//! evaluate an [`Action`](warden_inspect::Action) into a [`Verdict`] naming every rule
//! that matched. Most restrictive wins: deny > hold > allow.
//!
//! * [`PolicySet`] — a compiled, immutable set (`load`, `from_sources`, `evaluate`).
//! * [`PolicyStore`] — the live set, swapped atomically on reload.
//! * [`SqlCache`] — statement-text → facts cache for the proxies.
//! * [`run_tests`] — the embedded `tests:` of policy files.
//!
//! This crate must never do network I/O and never block; the only I/O is reading
//! policy files when asked to load them. It must never let an action that could not be
//! understood through by default (fail closed).

#![forbid(unsafe_code)]

mod cache;
mod condition;
mod errors;
mod evaluate;
mod flags;
#[doc(hidden)]
pub mod fuzzing;
mod objects;
mod patterns;
mod prefilter;
mod rule;
mod set;
mod store;
mod test_spec;
mod testing;
mod validate;

pub mod verdict;

pub use cache::SqlCache;
pub use errors::PolicyErrors;
pub use evaluate::merge_approvals;
pub use rule::{Defaults, RuleInfo, DEFAULT_ALLOW, DEFAULT_OPAQUE, DEFAULT_UNPARSED};
pub use set::PolicySet;
pub use store::PolicyStore;
pub use test_spec::{PolicyTest, SshTestRequest, TestAction, TestPayload};
pub use testing::{run_tests, TestReport, TestResult};
pub use verdict::{ApprovalSpec, Decision, Mode, RuleHit, Verdict};
pub use warden_diagnostic::Diagnostic;
