//! One module per command family. Each exposes `run`-style functions returning the
//! process exit code; none of them holds logic that belongs in a library crate.

pub mod approvals;
pub mod audit;
pub mod hash_password;
pub mod policy;
pub mod serve;
