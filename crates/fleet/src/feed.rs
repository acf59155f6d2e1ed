//! The analytics feed: the other replicas' shipped audit records, read back from
//! `warden_audit_records` so that this replica's analytics engine sees the whole
//! fleet's records (docs/fleet.md#analytics-alerts-and-lockouts).
//!
//! One cursor per replica, `(seq, hash)` of the last record handed out: each read asks
//! every other replica (the ids in `warden_replicas`) for its records past its cursor
//! (an index range scan per replica), checks each one — its hash recomputes from its
//! contents and it links to the record before it — and decodes it with the export's
//! decode path ([`crate::export::ShippedRow`]). A cursor moves only past records that
//! were handed out, so an error (the database away) or a restart of the read loses
//! nothing and hands nothing out twice.
//!
//! Read-only: this module must never write to the database or to a chain, never hand
//! out this replica's own records, and never hand out a record that does not check
//! (it stops at it and says so; the records before it are still handed out).

use std::collections::BTreeMap;

use tokio_postgres::IsolationLevel;
use warden_audit::Record;

use crate::export::{ShippedRow, COLUMNS};
use crate::{Fleet, FleetError};

/// The channel the shipper notifies after each shipment (payload: the replica id).
pub const CHANNEL: &str = "warden_audit";

/// One record of another replica's chain.
#[derive(Debug, Clone)]
pub struct RemoteRecord {
    /// The replica whose chain holds it.
    pub replica: String,
    /// `time_ns` as shipped (what the feed orders by).
    pub time_ns: i64,
    pub record: Record,
}

/// The other replicas' records past per-replica cursors.
pub struct AuditFeed {
    fleet: Fleet,
    /// Last (seq, hash) handed out, per replica.
    cursors: BTreeMap<String, (i64, [u8; 32])>,
    /// Records read per replica and call.
    batch: i64,
    /// Replicas whose next record did not check (logged once per problem).
    refused: BTreeMap<String, String>,
}

impl AuditFeed {
    /// Positions the cursors at the other replicas' shipped heads, and returns their
    /// records with `time_ns >= since_ns` up to those heads (the history the engine
    /// learns silently), oldest first. Both reads see one snapshot, so nothing falls
    /// between the history and the feed.
    pub async fn start(
        fleet: Fleet,
        since_ns: i64,
    ) -> Result<(AuditFeed, Vec<RemoteRecord>), FleetError> {
        let mut c = fleet.client().await?;
        let tx = c
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let me = fleet.replica_id().to_string();
        let heads = tx
            .query(
                "SELECT DISTINCT ON (replica_id) replica_id, seq, hash FROM warden_audit_records
                  WHERE replica_id <> $1 ORDER BY replica_id, seq DESC",
                &[&me],
            )
            .await?;
        let mut cursors = BTreeMap::new();
        for h in &heads {
            let hash: Vec<u8> = h.get(2);
            let hash: [u8; 32] = hash
                .try_into()
                .map_err(|_| FleetError::Db("a shipped hash is not 32 bytes".into()))?;
            cursors.insert(h.get::<_, String>(0), (h.get::<_, i64>(1), hash));
        }
        let rows = tx
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM warden_audit_records
                      WHERE replica_id <> $1 AND time_ns >= $2 ORDER BY time_ns, replica_id, seq"
                ),
                &[&me, &since_ns],
            )
            .await?;
        tx.commit().await?;
        let mut history = Vec::with_capacity(rows.len());
        for r in &rows {
            let row = ShippedRow::read(r);
            match decode(&row, None) {
                Ok(rec) => history.push(rec),
                Err(e) => {
                    tracing::error!(error = %e, "analytics feed: a shipped record of the history is refused")
                }
            }
        }
        let feed = AuditFeed {
            fleet,
            cursors,
            batch: 1000,
            refused: BTreeMap::new(),
        };
        Ok((feed, history))
    }

    /// The records shipped since the last call (at most `batch` per replica), in time
    /// order, also across calls: when a replica has more than `batch` new records, the
    /// others' records later than its last one read wait for the next call. Empty when
    /// there is nothing new.
    pub async fn next(&mut self) -> Result<Vec<RemoteRecord>, FleetError> {
        let c = self.fleet.client().await?;
        let (names, seqs): (Vec<&str>, Vec<i64>) =
            self.cursors.iter().map(|(k, v)| (k.as_str(), v.0)).unzip();
        let rows = c
            .query(
                &format!(
                    "SELECT x.* FROM warden_replicas rep
                      CROSS JOIN LATERAL (
                        SELECT {COLUMNS} FROM warden_audit_records r
                         WHERE r.replica_id = rep.replica_id
                           AND r.seq > coalesce((SELECT c.seq FROM unnest($2::text[], $3::bigint[]) AS c(replica_id, seq)
                                                  WHERE c.replica_id = rep.replica_id), 0)
                         ORDER BY r.seq LIMIT $4) x
                     WHERE rep.replica_id <> $1
                     ORDER BY x.replica_id, x.seq"
                ),
                &[&self.fleet.replica_id(), &names, &seqs, &self.batch],
            )
            .await?;
        drop(c);
        let mut by_replica: BTreeMap<String, Vec<ShippedRow>> = BTreeMap::new();
        for r in &rows {
            let row = ShippedRow::read(r);
            by_replica.entry(row.replica.clone()).or_default().push(row);
        }
        // A replica that filled its batch has more to come: nothing later than its last
        // record is handed out yet, so the batches stay in time order across replicas
        // (a resolution on B never comes before the alert it resolves, raised on A).
        // A replica stuck at a refused record does not hold the others back.
        let cutoff = by_replica
            .iter()
            .filter(|(replica, rows)| {
                rows.len() as i64 >= self.batch && !self.refused.contains_key(*replica)
            })
            .filter_map(|(_, rows)| rows.last().map(|r| r.time_ns))
            .min()
            .unwrap_or(i64::MAX);
        let mut out = Vec::with_capacity(rows.len());
        for (replica, rows) in by_replica {
            for row in rows.iter().take_while(|r| r.time_ns <= cutoff) {
                let cursor = self.cursors.get(&replica).copied();
                match decode(row, Some(cursor.unwrap_or((0, [0u8; 32])))) {
                    Ok(rec) => {
                        let hash = row.stored()?.hash;
                        self.cursors.insert(replica.clone(), (row.seq, hash));
                        self.refused.remove(&replica);
                        out.push(rec);
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        if self.refused.get(&replica) != Some(&msg) {
                            tracing::error!(replica = %replica, error = %msg, "analytics feed: a shipped record is refused; this replica's records are not fed past it");
                            self.refused.insert(replica.clone(), msg);
                        }
                        break;
                    }
                }
            }
        }
        out.sort_by(|a, b| {
            (a.time_ns, &a.replica, a.record.seq).cmp(&(b.time_ns, &b.replica, b.record.seq))
        });
        Ok(out)
    }

    /// Reads at most `n` records per replica and call (default 1000).
    pub fn set_batch(&mut self, n: usize) {
        self.batch = i64::try_from(n.max(1)).unwrap_or(i64::MAX);
    }

    /// The last sequence handed out per replica.
    pub fn cursors(&self) -> BTreeMap<String, u64> {
        self.cursors
            .iter()
            .map(|(k, v)| (k.clone(), v.0 as u64))
            .collect()
    }
}

/// A shipped row as a record, checked: its hash recomputes and, given the `after`
/// cursor, it is the next record of its chain.
fn decode(row: &ShippedRow, after: Option<(i64, [u8; 32])>) -> Result<RemoteRecord, FleetError> {
    let stored = row.stored()?;
    let refuse = |what: &str| {
        FleetError::Db(format!(
            "replica `{}` record {}: {what}",
            row.replica, row.seq
        ))
    };
    if stored.computed_hash() != stored.hash {
        return Err(refuse("its hash does not match its contents"));
    }
    if let Some((seq, hash)) = after {
        if row.seq != seq + 1 {
            return Err(refuse(&format!("expected record {} next", seq + 1)));
        }
        if seq > 0 && stored.prev != hash {
            return Err(refuse("it does not link to the record before it"));
        }
    }
    let record = Record::from_stored(&stored).map_err(|e| refuse(&e.to_string()))?;
    Ok(RemoteRecord {
        replica: row.replica.clone(),
        time_ns: row.time_ns,
        record,
    })
}
