//! Configuration drift: changes that went around review.
//!
//! * [`files`] and [`unified`] — the policy files as hashed snapshots and the unified
//!   diff between two of them (for `files_loaded` records, alerts and proposals).
//! * [`ledger`] — the files in force, for the `files_loaded` record.
//! * [`alert`] — the `config-drift` alert record, shared by every drift source.
//! * [`proposals`] — `warden policy propose`: a policy set reviewed in the approvals
//!   inbox, then written and applied.
//! * [`shelf`] — pending proposals kept under the data dir across restarts.
//! * [`upstream`] — the periodic schema and privilege fingerprint of postgres targets.
//!
//! Must never change what is in force except through the policy reloader (an approved
//! proposal), and never raise an alert for a change that went through review.

pub mod alert;
pub mod files;
pub mod ledger;
pub mod proposals;
pub mod shelf;
pub mod unified;
pub mod upstream;
