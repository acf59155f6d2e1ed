//! Insights: bounded aggregates of the audit stream for the console's charts — activity
//! per hour by decision, hour × weekday grids, feature usage, error classes, logins and
//! approvals — fed one record at a time, so that a page view reads aggregates instead
//! of scanning the chain.
//!
//! * [`Insights::observe`] — feed one record's [`InsightFacts`] (from a live record:
//!   [`facts_of`] with the `audit` feature).
//! * [`Insights::report`] — every chart for a [`Filter`], as plain serialisable data.
//!
//! Bounds (documented in `docs/console.md`): at most [`USERS`] users, [`ROLE_SETS`]
//! role sets, [`TARGETS`] targets, [`FEATURE_NAMES`] feature names, [`ERROR_CLASSES`]
//! error classes and [`METHODS`] login methods/reasons are named; the rest are counted
//! as `(other)`. Buckets older than [`RETAIN_DAYS`] days before the newest record are
//! dropped; at most [`PENDING_APPROVALS`] open approval requests are remembered for
//! their time to decision, and [`DECISIONS_KEPT`] decision times.
//!
//! Pure like the rest of the crate: no I/O, no wall clock (records' own times, shifted
//! by the analytics `time_zone`), no locks. Never decides anything and never feeds
//! anything back into the engine.

mod facts;
mod intern;
mod query;
#[cfg(feature = "audit")]
mod record;
mod report;
mod tables;

#[cfg(test)]
mod tests;

pub use facts::{endpoint, error_class, is_lockout, Feature, InsightFacts, Kind};
pub use intern::{OTHER, OTHER_ID};
#[cfg(feature = "audit")]
pub use record::facts_of;
pub use report::{
    ActivityPoint, ApprovalReport, AuthRow, Choices, ErrorClassRow, Filter, FilterError, Grid,
    Named, Report, Step, UsageList,
};
pub use tables::Insights;

/// Users named in the aggregates (the rest count as `(other)`).
pub const USERS: usize = 2_000;
/// Distinct role sets (a user's roles, sorted and joined by `+`).
pub const ROLE_SETS: usize = 500;
/// Targets named.
pub const TARGETS: usize = 1_000;
/// Feature names over all kinds (statement kinds, endpoints, resources, programs).
pub const FEATURE_NAMES: usize = 4_000;
/// Error classes named.
pub const ERROR_CLASSES: usize = 500;
/// Login methods and failure reasons named.
pub const METHODS: usize = 200;
/// How many days of buckets are kept, counted back from the newest record.
pub const RETAIN_DAYS: u32 = 120;
/// Open approval requests remembered (for their time to decision).
pub const PENDING_APPROVALS: usize = 10_000;
/// Decision times kept (the oldest go first).
pub const DECISIONS_KEPT: usize = 100_000;
