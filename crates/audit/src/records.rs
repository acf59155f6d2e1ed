//! Reading records out of the store, whichever value layout holds them (one record per
//! value, or chunks of consecutive records under the key of the first, compressed or
//! not: layout.rs).
//!
//! A record's place is its key's sequence plus its index in the value. Read-only: this
//! module must never write to the store.

use crate::error::AuditError;
use crate::layout::{self, StoredRecord};

/// Key sequence and value of the stored value that holds place `seq`, if any: the last
/// record key at or below `seq`.
fn value_at(db: &sled::Db, seq: u64) -> Result<Option<(u64, sled::IVec)>, AuditError> {
    let hit = db
        .range(layout::record_key(0)..=layout::record_key(seq))
        .next_back()
        .transpose()?;
    Ok(hit.and_then(|(k, v)| layout::key_seq(&k).map(|ks| (ks, v))))
}

/// Call `f` with the record at place `seq`, if the store has one.
pub(crate) fn with_record<T>(
    db: &sled::Db,
    seq: u64,
    f: impl FnOnce(&StoredRecord<'_>) -> Result<T, AuditError>,
) -> Result<Option<T>, AuditError> {
    let Some((key_seq, v)) = value_at(db, seq)? else {
        return Ok(None);
    };
    let plain = layout::unpack_value(key_seq, &v)?;
    let records = layout::decode_value(key_seq, &plain)?;
    match usize::try_from(seq - key_seq)
        .ok()
        .and_then(|i| records.get(i))
    {
        Some(r) => f(r).map(Some),
        None => Ok(None),
    }
}

/// Call `f(place, record)` for every stored record with a place in `lo..=hi`, oldest
/// first (`rev`: newest first), until it returns `Ok(true)`.
pub(crate) fn walk(
    db: &sled::Db,
    lo: u64,
    hi: u64,
    rev: bool,
    mut f: impl FnMut(u64, &StoredRecord<'_>) -> Result<bool, AuditError>,
) -> Result<(), AuditError> {
    if lo > hi {
        return Ok(());
    }
    // The value holding `lo` may be keyed below it.
    let start = value_at(db, lo)?.map_or(lo, |(ks, _)| ks);
    let range = db.range(layout::record_key(start)..=layout::record_key(hi));
    let mut visit = |item: sled::Result<(sled::IVec, sled::IVec)>| -> Result<bool, AuditError> {
        let (k, v) = item?;
        let Some(key_seq) = layout::key_seq(&k) else {
            return Ok(false);
        };
        let plain = layout::unpack_value(key_seq, &v)?;
        let records = layout::decode_value(key_seq, &plain)?;
        let mut places = (key_seq..).zip(records.iter()).collect::<Vec<_>>();
        if rev {
            places.reverse();
        }
        for (place, r) in places {
            if (lo..=hi).contains(&place) && f(place, r)? {
                return Ok(true);
            }
        }
        Ok(false)
    };
    if rev {
        for item in range.rev() {
            if visit(item)? {
                break;
            }
        }
    } else {
        for item in range {
            if visit(item)? {
                break;
            }
        }
    }
    Ok(())
}

/// Place of the last stored record (0 when the store holds none).
pub(crate) fn last_seq(db: &sled::Db) -> Result<u64, AuditError> {
    let last = db
        .range(layout::record_key(0)..=layout::record_key(u64::MAX))
        .next_back()
        .transpose()?;
    let Some((k, v)) = last else {
        return Ok(0);
    };
    let key_seq = layout::key_seq(&k).unwrap_or(0);
    let n = layout::decode_value(key_seq, &layout::unpack_value(key_seq, &v)?)?.len() as u64;
    Ok(key_seq + n.saturating_sub(1))
}
