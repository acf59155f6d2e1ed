//! Audit shipping: a background task copies this replica's audit records, exactly as
//! hashed, into `warden_audit_records` keyed by `(replica_id, seq)`, and periodically
//! anchors the shipped head in the shared anchor chain (`anchor`).
//!
//! The local chain stays the durable-first store: shipping only reads it. After a start
//! or an error the task resumes from the highest shipped sequence (re-reading it from
//! the database), and inserts are idempotent (`ON CONFLICT DO NOTHING`), so a crash or
//! an outage never leaves a gap or a duplicate. This module must never ship a record
//! that does not check, and never ship onto a shared chain that the local chain does not
//! continue (a replaced or truncated store): it stops and says so instead.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use tokio::sync::oneshot;
use warden_audit::ship::ShipRecord;
use warden_audit::AuditLog;

use crate::{anchor, Fleet, FleetError};

/// How often the shipper looks for new records, and how often it anchors.
#[derive(Debug, Clone)]
pub struct ShipOptions {
    /// Look for new local records this often (default 250 ms).
    pub every: Duration,
    /// Anchor the shipped head this often when it moved (default 10 s), and at stop.
    pub anchor_every: Duration,
    /// Records per INSERT.
    pub batch: usize,
}

impl Default for ShipOptions {
    fn default() -> ShipOptions {
        ShipOptions {
            every: Duration::from_millis(250),
            anchor_every: Duration::from_secs(10),
            batch: 1000,
        }
    }
}

/// How far shipping got (for logs and tests).
#[derive(Debug, Default)]
pub struct ShipStatus {
    /// Highest sequence known to be in the shared table.
    pub shipped: AtomicU64,
    /// Highest sequence anchored by this process.
    pub anchored: AtomicU64,
}

/// The running shipper; [`AuditShipper::finish`] ships the rest and anchors it.
pub struct AuditShipper {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    status: Arc<ShipStatus>,
}

impl AuditShipper {
    /// Starts shipping `audit` into the fleet database. Fails only if the audit signing
    /// key cannot be read.
    pub fn start(
        fleet: Fleet,
        audit: AuditLog,
        opts: ShipOptions,
    ) -> Result<AuditShipper, FleetError> {
        let key = audit
            .signing_key()
            .map_err(|e| FleetError::Ship(e.to_string()))?;
        let status = Arc::new(ShipStatus::default());
        let (stop, stopped) = oneshot::channel();
        let state = State {
            fleet,
            audit,
            key,
            opts,
            status: Arc::clone(&status),
            tail: None,
            anchored: 0,
            last_anchor: None,
            failing_since: None,
            last_warning: None,
        };
        let task = tokio::spawn(state.run(stopped));
        Ok(AuditShipper {
            stop: Some(stop),
            task,
            status,
        })
    }

    pub fn status(&self) -> &ShipStatus {
        &self.status
    }

    /// Ships what is left and anchors the head (graceful stop), waiting at most
    /// `within`; a shipment cut short is resumed by the next start.
    pub async fn finish(mut self, within: Duration) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(within, &mut self.task).await.is_err() {
            tracing::warn!(
                "audit shipping did not finish within {within:?}; the next start resumes it"
            );
            self.task.abort();
        }
    }
}

struct State {
    fleet: Fleet,
    audit: AuditLog,
    key: SigningKey,
    opts: ShipOptions,
    status: Arc<ShipStatus>,
    /// Highest shipped (seq, hash); `None` until re-read from the database.
    tail: Option<(u64, [u8; 32])>,
    anchored: u64,
    last_anchor: Option<Instant>,
    failing_since: Option<Instant>,
    last_warning: Option<Instant>,
}

impl State {
    async fn run(mut self, mut stopped: oneshot::Receiver<()>) {
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                _ = tokio::time::sleep(self.opts.every) => {}
            }
            let due = self
                .last_anchor
                .is_none_or(|t| t.elapsed() >= self.opts.anchor_every);
            let result = self.step(due).await;
            self.note(result);
        }
        // Graceful stop: everything written so far, then its anchor.
        let result = self.step(true).await;
        self.note(result);
    }

    /// Ships every new record, then anchors the shipped head if `anchor` and it moved.
    async fn step(&mut self, anchor: bool) -> Result<(), FleetError> {
        let bound = self.fleet.options().connect_timeout * 2 + Duration::from_secs(5);
        tokio::time::timeout(bound, self.ship())
            .await
            .map_err(|_| FleetError::Timeout(bound))??;
        if anchor {
            if let Some((seq, head)) = self.tail.filter(|t| t.0 > self.anchored) {
                let mut c = self.fleet.client().await?;
                let n = tokio::time::timeout(
                    bound,
                    anchor::append(&mut c, self.fleet.replica_id(), &self.key, seq, &head),
                )
                .await
                .map_err(|_| FleetError::Timeout(bound))??;
                tracing::debug!(anchor = n, seq, "audit head anchored");
                self.anchored = seq;
                self.status.anchored.store(seq, Ordering::Relaxed);
            }
            self.last_anchor = Some(Instant::now());
        }
        Ok(())
    }

    async fn ship(&mut self) -> Result<(), FleetError> {
        let head = self.audit.head().0;
        if self.tail.is_some_and(|t| t.0 >= head) {
            return Ok(());
        }
        let c = self.fleet.client().await?;
        let mut tail = match self.tail {
            Some(t) => t,
            None => self.resume(&c).await?,
        };
        self.tail = Some(tail);
        while tail.0 < head {
            let (audit, from, max) = (self.audit.clone(), tail.0 + 1, self.opts.batch);
            let batch = tokio::task::spawn_blocking(move || audit.records_from(from, max))
                .await
                .map_err(|e| FleetError::Ship(e.to_string()))?
                .map_err(|e| FleetError::Ship(e.to_string()))?;
            let Some(last) = batch.last() else { break };
            if batch[0].prev != tail.1 {
                return Err(FleetError::Ship(format!(
                    "local record {} does not continue the shipped chain at {}",
                    batch[0].seq, tail.0
                )));
            }
            let next = (last.seq, last.hash);
            insert(&c, self.fleet.replica_id(), &batch).await?;
            tail = next;
            self.tail = Some(tail);
            self.status.shipped.store(tail.0, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The highest shipped record of this replica, checked against the local chain.
    async fn resume(&mut self, c: &tokio_postgres::Client) -> Result<(u64, [u8; 32]), FleetError> {
        let id = self.fleet.replica_id();
        let row = c
            .query_opt(
                "SELECT seq, hash FROM warden_audit_records WHERE replica_id = $1 ORDER BY seq DESC LIMIT 1",
                &[&id],
            )
            .await?;
        let Some(row) = row else {
            return Ok((0, [0u8; 32]));
        };
        let seq = row.get::<_, i64>(0) as u64;
        let hash: Vec<u8> = row.get(1);
        let audit = self.audit.clone();
        let local = tokio::task::spawn_blocking(move || audit.record_at(seq))
            .await
            .map_err(|e| FleetError::Ship(e.to_string()))?
            .map_err(|e| FleetError::Ship(e.to_string()))?;
        match local {
            Some(r) if r.hash.as_slice() == hash.as_slice() => {
                let anchored: Option<i64> = c
                    .query_one(
                        "SELECT max(seq) FROM warden_audit_anchors WHERE replica_id = $1",
                        &[&id],
                    )
                    .await?
                    .get(0);
                self.anchored = anchored.unwrap_or(0) as u64;
                self.status.shipped.store(seq, Ordering::Relaxed);
                Ok((seq, r.hash))
            }
            Some(_) => Err(FleetError::Ship(format!(
                "the shared audit of replica `{id}` differs from the local chain at sequence {seq}: \
                 this is not the store that shipped it; shipping stopped"
            ))),
            None => Err(FleetError::Ship(format!(
                "the shared audit of replica `{id}` reaches sequence {seq} but the local chain ends \
                 at {}: a replaced or truncated store; shipping stopped",
                self.audit.head().0
            ))),
        }
    }

    /// Logs failures (at most every 10 s, with the lag) and the recovery.
    fn note(&mut self, result: Result<(), FleetError>) {
        let lag = self
            .audit
            .head()
            .0
            .saturating_sub(self.status.shipped.load(Ordering::Relaxed));
        match result {
            Ok(()) => {
                if let Some(since) = self.failing_since.take() {
                    tracing::info!(
                        shipped = self.status.shipped.load(Ordering::Relaxed),
                        lag,
                        "audit shipping to the fleet database resumed after {:.1}s",
                        since.elapsed().as_secs_f64()
                    );
                }
            }
            Err(e) => {
                self.tail = None;
                let since = *self.failing_since.get_or_insert_with(Instant::now);
                if self
                    .last_warning
                    .is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
                {
                    tracing::warn!(
                        error = %e,
                        lag,
                        "audit shipping to the fleet database failing for {:.1}s; {lag} records not shipped yet",
                        since.elapsed().as_secs_f64()
                    );
                    self.last_warning = Some(Instant::now());
                }
            }
        }
    }
}

/// One idempotent INSERT of `batch`.
async fn insert(
    c: &tokio_postgres::Client,
    replica: &str,
    batch: &[ShipRecord],
) -> Result<(), FleetError> {
    let seqs: Vec<i64> = batch.iter().map(|r| r.seq as i64).collect();
    let times: Vec<i64> = batch.iter().map(|r| r.time_ns).collect();
    let prevs: Vec<&[u8]> = batch.iter().map(|r| r.prev.as_slice()).collect();
    let hashes: Vec<&[u8]> = batch.iter().map(|r| r.hash.as_slice()).collect();
    let events: Vec<&str> = batch.iter().map(|r| r.event.as_str()).collect();
    c.execute(
        "INSERT INTO warden_audit_records (replica_id, seq, time_ns, prev_hash, hash, event)
         SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bytea[], $5::bytea[], $6::text[])
         ON CONFLICT (replica_id, seq) DO NOTHING",
        &[&replica, &seqs, &times, &prevs, &hashes, &events],
    )
    .await?;
    // Wakes the other replicas' analytics feeds (`feed`); delivered at commit.
    c.execute(
        "SELECT pg_notify($1, $2)",
        &[&crate::feed::CHANNEL, &replica],
    )
    .await?;
    Ok(())
}
