//! Behaviour analytics, live: the [`runner`] feeds every record the audit log writes to
//! the analytics engine and records what it raises as `alert_raised`; the [`book`]
//! keeps the alerts raised within the baseline window (rebuilt from the chain's
//! `alert_*` records), answers the console ([`desk`]) and locks logins for the
//! throttle; [`baselines`] shares the runner's engine with the console's per-user pages.
//!
//! The chain is the one source of truth: the book changes only by applying audit
//! records, so a restart rebuilds exactly what was recorded. Must never block an
//! append (the runner reads the broadcast feed on its own thread) and never re-raise
//! an alert for records judged before a restart. In fleet mode ([`fleet`]) the other
//! replicas' records come in through the fleet database and alerts are claimed there,
//! so the fleet raises each alert once and every replica's book holds it.

pub mod baselines;
pub mod book;
pub mod desk;
mod fleet;
pub mod runner;

pub use baselines::Baselines;
pub use book::AlertBook;
pub use desk::Desk;
pub use fleet::FeedStats;
