//! Reading the chain out for shipping (fleet mode copies every record of this log to a
//! shared database, docs/fleet.md): records by sequence, exactly as stored and hashed.
//!
//! Read-only: this module must never write to the store, and never hand out a record
//! whose stored hash does not recompute (a damaged record is an error, not shipped).

use crate::error::AuditError;
use crate::layout::StoredRecord;
use crate::log::AuditLog;
use crate::records;

/// One record as stored: the fields its hash covers, and the hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipRecord {
    pub seq: u64,
    pub time_ns: i64,
    /// Hash of record `seq - 1` (32 zero bytes for record 1).
    pub prev: [u8; 32],
    pub hash: [u8; 32],
    /// The canonical event JSON exactly as hashed.
    pub event: String,
}

impl ShipRecord {
    fn of(r: &StoredRecord<'_>) -> Result<ShipRecord, AuditError> {
        if r.computed_hash() != r.hash {
            return Err(AuditError::Corrupt {
                seq: r.seq,
                what: "the stored hash does not match the record; run `warden audit verify`".into(),
            });
        }
        let event = std::str::from_utf8(r.event).map_err(|_| AuditError::Corrupt {
            seq: r.seq,
            what: "event is not UTF-8".into(),
        })?;
        Ok(ShipRecord {
            seq: r.seq,
            time_ns: r.time_ns,
            prev: r.prev,
            hash: r.hash,
            event: event.to_string(),
        })
    }
}

impl AuditLog {
    /// Up to `max` records with sequence `>= from`, oldest first, once everything
    /// written so far has reached the store. Blocking: call it off the async workers.
    pub fn records_from(&self, from: u64, max: usize) -> Result<Vec<ShipRecord>, AuditError> {
        let mut out = Vec::new();
        if max == 0 {
            return Ok(out);
        }
        records::walk(self.caught_up(), from.max(1), u64::MAX, false, |_, r| {
            out.push(ShipRecord::of(r)?);
            Ok(out.len() >= max)
        })?;
        Ok(out)
    }

    /// The record at `seq`, as stored (checked like [`AuditLog::records_from`]).
    pub fn record_at(&self, seq: u64) -> Result<Option<ShipRecord>, AuditError> {
        records::with_record(self.caught_up(), seq, ShipRecord::of)
    }

    /// The signing key of this log's checkpoints (the file `signing_key` names), for
    /// signing heads elsewhere (the fleet's anchor chain).
    pub fn signing_key(&self) -> Result<ed25519_dalek::SigningKey, AuditError> {
        crate::checkpoint::load_or_create_key(&self.config().signing_key)
    }
}
