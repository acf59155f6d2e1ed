//! A record as read back from the store: the event plus its place in the chain.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::AuditError;
use crate::event::Event;
use crate::layout::StoredRecord;

/// One audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// Hex hash of record `seq - 1` (64 zeros for record 1).
    pub prev_hash: String,
    /// Hex hash of this record (docs/audit-format.md).
    pub hash: String,
    pub event: Event,
}

impl Record {
    /// A stored record, decoded.
    pub fn from_stored(s: &StoredRecord<'_>) -> Result<Record, AuditError> {
        let mut rec = Record::without_hashes(s)?;
        rec.prev_hash = hex::encode(s.prev);
        rec.hash = hex::encode(s.hash);
        Ok(rec)
    }

    /// A stored record decoded with `prev_hash` and `hash` left empty (no allocation):
    /// for whole-window summaries, which never read the hashes.
    pub(crate) fn without_hashes(s: &StoredRecord<'_>) -> Result<Record, AuditError> {
        let event = serde_json::from_slice(s.event).map_err(|e| AuditError::Corrupt {
            seq: s.seq,
            what: format!("event is not valid JSON: {e}"),
        })?;
        Ok(Record {
            seq: s.seq,
            time: time_from_ns(s.time_ns),
            prev_hash: String::new(),
            hash: String::new(),
            event,
        })
    }
}

/// The export line of a stored record: `{"seq":..,"time":..,"time_ns":..,
/// "prev_hash":..,"hash":..,"event":<canonical event JSON exactly as hashed>}`.
pub fn export_line(s: &StoredRecord<'_>) -> Result<String, AuditError> {
    let event = std::str::from_utf8(s.event).map_err(|_| AuditError::Corrupt {
        seq: s.seq,
        what: "event is not UTF-8".into(),
    })?;
    let time = time_from_ns(s.time_ns)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Ok(format!(
        "{{\"seq\":{},\"time\":\"{}\",\"time_ns\":{},\"prev_hash\":\"{}\",\"hash\":\"{}\",\"event\":{}}}",
        s.seq,
        time,
        s.time_ns,
        hex::encode(s.prev),
        hex::encode(s.hash),
        event
    ))
}

/// Unix nanoseconds to a UTC time (clamped to the representable range).
pub fn time_from_ns(ns: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A UTC time to Unix nanoseconds (saturating).
pub fn time_to_ns(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos()).unwrap_or(if t.unix_timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// Now, as Unix nanoseconds.
pub fn now_ns() -> i64 {
    time_to_ns(OffsetDateTime::now_utc())
}
