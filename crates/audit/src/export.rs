//! Export: matching records as JSON lines, oldest first, for SIEM ingestion.
//!
//! Each line is [`crate::export_line`]: the record's sequence, time, hashes and its
//! event exactly as hashed, so a third party can re-verify the chain from an export.
//! Streams without a scan budget (an export is meant to be complete); only reads.

use std::io::Write;

use crate::error::AuditError;
use crate::layout::{self, StoredRecord};
use crate::query::{driver, index_key_seq, seq_range, Filter, Query};
use crate::record::export_line;
use crate::records;

/// Write every record matching `q` (ignoring `after` and `limit`) to `out`, oldest
/// first, one JSON object per line; returns how many were written.
pub fn export(db: &sled::Db, q: &Query, out: &mut impl Write) -> Result<u64, AuditError> {
    export_from(db, q, 1, out)
}

/// [`export`] of the records with sequence `>= from` only (for `tail --follow`).
pub fn export_from(
    db: &sled::Db,
    q: &Query,
    from: u64,
    out: &mut impl Write,
) -> Result<u64, AuditError> {
    let q = Query {
        after: None,
        ..q.clone()
    };
    let Some((lo, hi)) = seq_range(db, &q)? else {
        return Ok(0);
    };
    let lo = lo.max(from);
    if lo > hi {
        return Ok(0);
    }
    let filter = Filter::new(&q);
    let unfiltered =
        q.user.is_none() && q.target.is_none() && q.verdict.is_none() && q.text.is_none();
    let mut n = 0u64;
    let mut emit = |r: &StoredRecord<'_>| -> Result<bool, AuditError> {
        if unfiltered || filter.matches(r)?.is_some() {
            let line = export_line(r)?;
            writeln!(out, "{line}").map_err(|e| AuditError::io("<output>", e))?;
            n += 1;
        }
        Ok(false)
    };
    match driver(&q) {
        Some((kind, value)) => {
            // Start at the value's last entry keyed at or below `lo`: it may list
            // sequences >= lo.
            let lo_key = layout::index_key(kind, value, lo);
            let start = db
                .range(layout::index_key(kind, value, 0)..=lo_key.clone())
                .next_back()
                .transpose()?
                .map_or(lo_key, |(k, _)| k.to_vec());
            'entries: for item in db.range(start..=layout::index_key(kind, value, hi)) {
                let (k, v) = item?;
                let Some(seqs) = index_key_seq(&k).and_then(|ks| layout::posting_seqs(ks, &v))
                else {
                    continue;
                };
                for seq in seqs {
                    if seq < lo {
                        continue;
                    }
                    if seq > hi {
                        break 'entries;
                    }
                    records::with_record(db, seq, &mut emit)?;
                }
            }
        }
        None => records::walk(db, lo, hi, false, |_, r| emit(r))?,
    }
    Ok(n)
}

/// Sequence number of the last stored record (0 when empty).
pub fn last_seq(db: &sled::Db) -> Result<u64, AuditError> {
    records::last_seq(db)
}
