//! Query and paging: newest first, driven by a secondary index or a sequence range.
//!
//! Time filters become a sequence range by binary search (record times never go
//! backwards); user / target / verdict filters walk their index; text is matched on
//! the record. Every page examines at most [`SCAN_BUDGET`] candidates, so no request
//! can turn into a full scan of a large store: a page may come back short with a
//! `next` cursor to continue from. This module only reads; it must never write.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::AuditError;
use crate::layout::{self, IndexKind, StoredRecord};
use crate::record::{time_to_ns, Record};
use crate::records;
use crate::writer::index_values;

/// Most candidate records one page looks at.
pub const SCAN_BUDGET: usize = 100_000;
/// Page size when `limit` is 0.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page.
pub const MAX_LIMIT: usize = 10_000;

/// A query over the log. All filters combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Query {
    /// Records at or after this time.
    #[serde(with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    /// Records strictly before this time.
    #[serde(with = "time::serde::rfc3339::option")]
    pub until: Option<OffsetDateTime>,
    /// Exact user name (the event's actor, else the action's user).
    pub user: Option<String>,
    /// Exact target name.
    pub target: Option<String>,
    /// Exact decision: allow | deny | hold.
    pub verdict: Option<String>,
    /// Case-insensitive substring of the record's event JSON.
    pub text: Option<String>,
    /// Cursor: only records with a sequence number below this.
    pub after: Option<u64>,
    /// Page size (0: [`DEFAULT_LIMIT`]; capped at [`MAX_LIMIT`]).
    pub limit: usize,
}

/// One page of results, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub records: Vec<Record>,
    /// Pass as `after` to get the next page; `None` when there is nothing more.
    pub next: Option<u64>,
}

pub(crate) fn run(db: &sled::Db, q: &Query) -> Result<Page, AuditError> {
    let limit = match q.limit {
        0 => DEFAULT_LIMIT,
        n => n.min(MAX_LIMIT),
    };
    let empty = Page {
        records: Vec::new(),
        next: None,
    };
    let Some((lo, hi)) = seq_range(db, q)? else {
        return Ok(empty);
    };
    let filter = Filter::new(q);
    let mut out = Vec::new();
    let mut examined = 0usize;
    let mut last_seen = None;
    let mut check = |seq: u64, r: &StoredRecord<'_>| -> Result<bool, AuditError> {
        examined += 1;
        last_seen = Some(seq);
        if let Some(rec) = filter.matches(r)? {
            out.push(rec);
        }
        Ok(out.len() >= limit || examined >= SCAN_BUDGET)
    };
    match driver(q) {
        Some((kind, value)) => {
            // An entry keyed below `lo` may still list sequences >= lo, so the walk
            // starts at the value's newest entry at or below `hi` and stops at the
            // first sequence below `lo`.
            let range = layout::index_key(kind, value, 0)..=layout::index_key(kind, value, hi);
            'entries: for item in db.range(range).rev() {
                let (k, v) = item?;
                let Some(seqs) = index_key_seq(&k).and_then(|ks| layout::posting_seqs(ks, &v))
                else {
                    continue;
                };
                for &seq in seqs.iter().rev() {
                    if seq > hi {
                        continue;
                    }
                    if seq < lo {
                        break 'entries;
                    }
                    if records::with_record(db, seq, |r| check(seq, r))? == Some(true) {
                        break 'entries;
                    }
                }
            }
        }
        None => records::walk(db, lo, hi, true, check)?,
    }
    let more = out.len() >= limit || examined >= SCAN_BUDGET;
    let next = if more {
        last_seen.filter(|s| *s > lo)
    } else {
        None
    };
    Ok(Page { records: out, next })
}

/// The index that drives a query: the first of user, target, verdict that is set.
pub(crate) fn driver(q: &Query) -> Option<(IndexKind, &str)> {
    [
        (IndexKind::User, &q.user),
        (IndexKind::Target, &q.target),
        (IndexKind::Verdict, &q.verdict),
    ]
    .into_iter()
    .find_map(|(k, v)| v.as_deref().map(|v| (k, v)))
}

/// The sequence number at the end of an index key.
pub(crate) fn index_key_seq(k: &[u8]) -> Option<u64> {
    k.len()
        .checked_sub(8)
        .and_then(|at| k[at..].try_into().ok())
        .map(u64::from_be_bytes)
}

/// The non-time filters of a query, applied to one stored record.
pub(crate) struct Filter<'q> {
    q: &'q Query,
    needle: Option<Vec<u8>>,
}

impl Query {
    /// The decoded record when it passes the user, target, verdict and text filters
    /// (`since`, `until`, `after` and `limit` are the caller's to apply: this is for
    /// records read elsewhere, e.g. the copies shipped to a fleet database).
    pub fn select(&self, s: &StoredRecord<'_>) -> Result<Option<Record>, AuditError> {
        Filter::new(self).matches(s)
    }
}

impl<'q> Filter<'q> {
    pub(crate) fn new(q: &'q Query) -> Self {
        Filter {
            q,
            needle: q.text.as_ref().map(|t| t.to_ascii_lowercase().into_bytes()),
        }
    }

    /// The decoded record when it passes every filter.
    pub(crate) fn matches(&self, s: &StoredRecord<'_>) -> Result<Option<Record>, AuditError> {
        if let Some(n) = &self.needle {
            if !contains_ci(s.event, n) {
                return Ok(None);
            }
        }
        let rec = Record::from_stored(s)?;
        let vals: Vec<(IndexKind, &str)> = index_values(&rec.event).collect();
        let has = |k: IndexKind, want: &Option<String>| {
            want.as_deref()
                .is_none_or(|w| vals.iter().any(|(vk, v)| *vk == k && *v == w))
        };
        let q = self.q;
        let ok = has(IndexKind::User, &q.user)
            && has(IndexKind::Target, &q.target)
            && has(IndexKind::Verdict, &q.verdict);
        Ok(ok.then_some(rec))
    }
}

/// The inclusive sequence range the time filters and the cursor allow, if any.
pub(crate) fn seq_range(db: &sled::Db, q: &Query) -> Result<Option<(u64, u64)>, AuditError> {
    let head = records::last_seq(db)?;
    if head == 0 {
        return Ok(None);
    }
    let mut lo = 1u64;
    let mut hi = head;
    if let Some(a) = q.after {
        if a <= 1 {
            return Ok(None);
        }
        hi = hi.min(a - 1);
    }
    if let Some(since) = q.since {
        // First sequence whose time is >= since.
        lo = lo.max(partition(db, head, time_to_ns(since))?);
    }
    if let Some(until) = q.until {
        // Last sequence whose time is < until.
        let first_at_or_after = partition(db, head, time_to_ns(until))?;
        if first_at_or_after <= 1 {
            return Ok(None);
        }
        hi = hi.min(first_at_or_after - 1);
    }
    Ok((lo <= hi).then_some((lo, hi)))
}

/// Smallest sequence in 1..=head+1 whose record time is >= `t` (binary search).
fn partition(db: &sled::Db, head: u64, t: i64) -> Result<u64, AuditError> {
    let (mut lo, mut hi) = (1u64, head + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if time_at_or_after(db, mid)? < t {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// Time of the first stored record at or after `seq` (tolerates missing records).
fn time_at_or_after(db: &sled::Db, seq: u64) -> Result<i64, AuditError> {
    let mut time = i64::MAX;
    records::walk(db, seq, u64::MAX, false, |_, r| {
        time = r.time_ns;
        Ok(true)
    })?;
    Ok(time)
}

fn contains_ci(hay: &[u8], needle_lower: &[u8]) -> bool {
    if needle_lower.is_empty() {
        return true;
    }
    hay.windows(needle_lower.len()).any(|w| {
        w.iter()
            .zip(needle_lower)
            .all(|(a, b)| a.to_ascii_lowercase() == *b)
    })
}
