//! One file per subcommand, each exposing `run` and returning the process exit code
//! (mapped in one place, [`exit`]); none of them holds logic that belongs in a library
//! crate.

pub mod analytics;
pub mod approvals;
pub mod audit;
pub mod audit_fleet;
pub mod check;
pub mod demo;
pub mod exit;
pub mod hash_password;
pub mod logging;
pub mod policy;
pub mod policy_propose;
pub mod report;
pub mod serve;
