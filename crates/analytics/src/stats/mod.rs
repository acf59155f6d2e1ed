//! Bounded-memory statistics: sliding-window rates, evidence rings and robust summaries
//! (median, MAD, quantiles) of small samples.
//!
//! Everything here is O(1) in memory per instance, whatever the number of records seen;
//! nothing here reads a clock (times are passed in).

pub mod evidence;
pub mod rate;
pub mod robust;
