//! Fleet export: every replica's shipped audit records as JSON lines, merged in time
//! order (`time_ns`, then replica id and sequence), each line the local export line
//! (docs/audit-format.md section 8) with the replica's id first.
//!
//! Read-only, keyset-paged so the output streams. It must never write to the database,
//! and never print a record other than exactly as shipped (it does not verify: run
//! `warden audit verify --fleet` for that).

use std::io::Write;

use tokio_postgres::Client;
use warden_audit::layout::StoredRecord;

use crate::FleetError;

/// Rows read per round trip.
const PAGE: i64 = 5_000;

/// Writes the records with `since_ns <= time_ns < until_ns`, oldest first; how many.
pub async fn export(
    client: &Client,
    since_ns: Option<i64>,
    until_ns: Option<i64>,
    out: &mut impl Write,
) -> Result<u64, FleetError> {
    let (since, until) = (since_ns.unwrap_or(i64::MIN), until_ns.unwrap_or(i64::MAX));
    let mut after: (i64, String, i64) = (i64::MIN, String::new(), 0);
    let mut n = 0u64;
    loop {
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM warden_audit_records
                  WHERE (time_ns, replica_id, seq) > ($1, $2, $3) AND time_ns >= $4 AND time_ns < $5
                  ORDER BY time_ns, replica_id, seq LIMIT $6"
                ),
                &[&after.0, &after.1, &after.2, &since, &until, &PAGE],
            )
            .await?;
        let Some(last) = rows.last() else {
            return Ok(n);
        };
        after = (last.get(0), last.get(1), last.get(2));
        for r in &rows {
            let row = ShippedRow::read(r);
            let stored = row.stored()?;
            let line =
                warden_audit::export_line(&stored).map_err(|e| FleetError::Db(e.to_string()))?;
            let replica_json =
                serde_json::to_string(&row.replica).map_err(|e| FleetError::Db(e.to_string()))?;
            writeln!(out, "{{\"replica\":{replica_json},{}", &line[1..])
                .map_err(|e| FleetError::Db(format!("writing the export: {e}")))?;
            n += 1;
        }
    }
}

/// One row of `warden_audit_records` as selected by [`COLUMNS`]: the decode path that
/// the export and the analytics feed (`feed`) share.
pub(crate) struct ShippedRow {
    pub time_ns: i64,
    pub replica: String,
    pub seq: i64,
    prev: Vec<u8>,
    hash: Vec<u8>,
    event: String,
}

/// The columns [`ShippedRow::read`] expects, in its order.
pub(crate) const COLUMNS: &str = "time_ns, replica_id, seq, prev_hash, hash, event";

impl ShippedRow {
    pub fn read(r: &tokio_postgres::Row) -> ShippedRow {
        ShippedRow {
            time_ns: r.get(0),
            replica: r.get(1),
            seq: r.get(2),
            prev: r.get(3),
            hash: r.get(4),
            event: r.get(5),
        }
    }

    /// The record exactly as shipped (hashes as stored: not checked here).
    pub fn stored(&self) -> Result<StoredRecord<'_>, FleetError> {
        let digest = |v: &[u8]| -> Result<[u8; 32], FleetError> {
            v.try_into().map_err(|_| {
                FleetError::Db(format!(
                    "replica `{}` record {}: a hash is not 32 bytes",
                    self.replica, self.seq
                ))
            })
        };
        Ok(StoredRecord {
            seq: self.seq as u64,
            time_ns: self.time_ns,
            prev: digest(&self.prev)?,
            hash: digest(&self.hash)?,
            event: self.event.as_bytes(),
        })
    }
}
