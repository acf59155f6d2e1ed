//! The fleet's audit records for the console and API: every replica's shipped copy,
//! newest first in one time order (`time_ns`, then replica id and sequence), filtered
//! like a local query (user, target, verdict, text, since/until) and paged with a cursor.
//!
//! Read-only. It must never write to the database, and never return a record other than
//! as shipped (it does not verify: `warden audit verify --fleet` does). A request reads
//! at most [`SCAN_LIMIT`] rows, so a rare filter cannot keep the database busy: it then
//! returns what it found with a cursor to go on from.

use std::fmt;
use std::str::FromStr;

use tokio_postgres::Client;
use warden_audit::record::time_to_ns;
use warden_audit::{Query, Record};

use crate::export::{ShippedRow, COLUMNS};
use crate::FleetError;

/// Rows read per round trip.
const BATCH: i64 = 1_000;
/// Rows read at most per request.
pub const SCAN_LIMIT: usize = 50_000;

/// Where a page ended: the last row looked at (exclusive for the next page). Written
/// `time_ns:seq:replica` (replica ids hold no `:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetCursor {
    pub time_ns: i64,
    pub seq: i64,
    pub replica: String,
}

impl fmt::Display for FleetCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.time_ns, self.seq, self.replica)
    }
}

impl FromStr for FleetCursor {
    type Err = String;
    fn from_str(s: &str) -> Result<FleetCursor, String> {
        let bad =
            || format!("`{s}` is not a fleet cursor (time_ns:seq:replica, as `next` gave it)");
        let mut parts = s.splitn(3, ':');
        let time_ns = parts.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let seq = parts.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let replica = parts.next().filter(|r| !r.is_empty()).ok_or_else(bad)?;
        Ok(FleetCursor {
            time_ns,
            seq,
            replica: replica.to_string(),
        })
    }
}

/// One record of the fleet and the replica that wrote it.
#[derive(Debug, Clone)]
pub struct FleetRecord {
    pub replica: String,
    pub record: Record,
}

/// One page, newest first; `next` is set when there may be more.
#[derive(Debug, Default)]
pub struct FleetPage {
    pub records: Vec<FleetRecord>,
    pub next: Option<FleetCursor>,
}

/// The records of `q` (its `after` is ignored: `cursor` pages here), newest first, at
/// most `q.limit`.
pub async fn query(
    client: &Client,
    q: &Query,
    cursor: Option<&FleetCursor>,
) -> Result<FleetPage, FleetError> {
    let since = q.since.map(time_to_ns).unwrap_or(i64::MIN);
    let until = q.until.map(time_to_ns).unwrap_or(i64::MAX);
    let mut at: Option<FleetCursor> = cursor.cloned();
    let mut page = FleetPage::default();
    let mut scanned = 0usize;
    loop {
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM warden_audit_records
                      WHERE ($1::bigint IS NULL OR (time_ns, replica_id, seq) < ($1, $2, $3))
                        AND time_ns >= $4 AND time_ns < $5
                      ORDER BY time_ns DESC, replica_id DESC, seq DESC LIMIT $6"
                ),
                &[
                    &at.as_ref().map(|c| c.time_ns),
                    &at.as_ref().map(|c| c.replica.as_str()),
                    &at.as_ref().map(|c| c.seq),
                    &since,
                    &until,
                    &BATCH,
                ],
            )
            .await?;
        let full = rows.len() as i64 == BATCH;
        for r in &rows {
            let row = ShippedRow::read(r);
            scanned += 1;
            let here = FleetCursor {
                time_ns: row.time_ns,
                seq: row.seq,
                replica: row.replica.clone(),
            };
            let stored = row.stored()?;
            let hit = q.select(&stored).map_err(|e| {
                FleetError::Db(format!("replica `{}` record {}: {e}", row.replica, row.seq))
            })?;
            if let Some(record) = hit {
                page.records.push(FleetRecord {
                    replica: row.replica.clone(),
                    record,
                });
            }
            if page.records.len() >= q.limit.max(1) || scanned >= SCAN_LIMIT {
                page.next = Some(here);
                return Ok(page);
            }
            at = Some(here);
        }
        if !full {
            return Ok(page);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FleetCursor;

    #[test]
    fn a_cursor_reads_back_what_it_wrote_and_names_a_bad_one() {
        let c = FleetCursor {
            time_ns: 1_765_000_000_123,
            seq: 42,
            replica: "gw-1.eu:x".into(),
        };
        assert_eq!(c.to_string().parse::<FleetCursor>(), Ok(c));
        let err = "12:x:a".parse::<FleetCursor>().expect_err("bad seq");
        assert!(err.contains("not a fleet cursor"), "{err}");
        assert!("12:3:".parse::<FleetCursor>().is_err());
        assert!("12".parse::<FleetCursor>().is_err());
    }
}
