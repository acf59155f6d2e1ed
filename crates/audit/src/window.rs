//! Every record of a time window, oldest first, without a query page's scan budget: the
//! access report and other whole-window summaries read through this.
//!
//! The first record of the window is found by bisecting sequence numbers on record time
//! (records are appended in time order; a record whose clock reading is a little out of
//! order near the edge is still filtered exactly by its own time). Read-only: must
//! never write to the store.

use time::OffsetDateTime;

use crate::error::AuditError;
use crate::record::{time_from_ns, Record};
use crate::records;

/// The time of record `seq`, if the store holds it (read from the stored header: the
/// event is not decoded).
fn time_of(db: &sled::Db, seq: u64) -> Result<Option<OffsetDateTime>, AuditError> {
    records::with_record(db, seq, |r| Ok(time_from_ns(r.time_ns)))
}

/// The first sequence number whose record is at or after `since` (`last + 1` if none).
fn first_at_or_after(db: &sled::Db, since: OffsetDateTime, last: u64) -> Result<u64, AuditError> {
    let (mut lo, mut hi) = (1u64, last + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match time_of(db, mid)? {
            Some(t) if t < since => lo = mid + 1,
            _ => hi = mid,
        }
    }
    Ok(lo)
}

/// Call `f` with every record whose time is in `[since, until)` (open ends when `None`),
/// oldest first. Returns how many records `f` saw. The records' `prev_hash` and `hash`
/// are empty: a summary never needs them, and hex-encoding two hashes per record was
/// a measurable share of a 1M-record access report (`verify` checks the chain).
pub(crate) fn walk_window(
    db: &sled::Db,
    since: Option<OffsetDateTime>,
    until: Option<OffsetDateTime>,
    mut f: impl FnMut(&Record),
) -> Result<u64, AuditError> {
    let last = records::last_seq(db)?;
    if last == 0 {
        return Ok(0);
    }
    let lo = match since {
        Some(s) => first_at_or_after(db, s, last)?,
        None => 1,
    };
    let mut seen = 0u64;
    records::walk(db, lo, last, false, |_, stored| {
        // Bounds are checked on the stored time; only records inside are decoded.
        let time = time_from_ns(stored.time_ns);
        if until.is_some_and(|u| time >= u) {
            return Ok(true);
        }
        if since.is_none_or(|s| time >= s) {
            seen += 1;
            f(&Record::without_hashes(stored)?);
        }
        Ok(false)
    })?;
    Ok(seen)
}
