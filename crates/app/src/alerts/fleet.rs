//! Fleet mode for the runner (docs/fleet.md#analytics-alerts-and-lockouts): the other
//! replicas' records come through [`warden_fleet::AuditFeed`] into the same engine,
//! and an alert is recorded only by the replica that wins its claim in
//! `warden_alerts`.
//!
//! The feed task reads the fleet database every [`FEED_EVERY`] and whenever a shipper
//! notifies, and hands batches to the runner over a bounded channel (it waits when the
//! runner is behind; it never drops a batch: its cursors have already moved past it).
//! Must never write another replica's record into this replica's chain, never ship it
//! (it is not in the chain), and never hold back a local alert because the fleet
//! database is away: an alert whose claim cannot be made is recorded anyway (it may
//! then be recorded by another replica too).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use warden_analytics::Alert;
use warden_fleet::alerts::AlertClaim;
use warden_fleet::{AuditFeed, Fleet, RemoteRecord, Signal};

/// How often the feed looks for the other replicas' records besides notifications.
pub const FEED_EVERY: Duration = Duration::from_secs(1);

/// Evidence ids of other replicas' records have this bit set; local seqs never do.
const REMOTE: u64 = 1 << 63;

/// How many remote evidence ids are remembered (older ones drop out of new alerts'
/// `fleet_evidence`; the engine's windows hold far fewer).
const REMEMBERED: usize = 200_000;

/// What the feed did, for `/metrics`.
#[derive(Debug, Default)]
pub struct FeedStats {
    /// Other replicas' records handed to the engine.
    records: AtomicU64,
    /// Reads of the fleet database that failed.
    failures: AtomicU64,
    /// Age of the newest record of the last batch when it was read (ms).
    lag_ms: AtomicU64,
}

impl FeedStats {
    /// The feed's `/metrics` families.
    pub fn families(&self) -> Vec<warden_web::CounterFamily> {
        let family = |name, help, gauge, n: &AtomicU64| warden_web::CounterFamily {
            name,
            help,
            gauge,
            samples: vec![(None, n.load(Ordering::Relaxed))],
        };
        vec![
            family(
                "warden_fleet_feed_records_total",
                "Other replicas' audit records fed to this replica's analytics.",
                false,
                &self.records,
            ),
            family(
                "warden_fleet_feed_failures_total",
                "Reads of the other replicas' records that failed (fleet database away).",
                false,
                &self.failures,
            ),
            family(
                "warden_fleet_feed_lag_milliseconds",
                "Age of the newest record of the feed's last batch when it was read.",
                true,
                &self.lag_ms,
            ),
        ]
    }
}

/// Maps the engine's evidence ids of remote records back to `<replica>:<seq>`.
#[derive(Debug, Default)]
pub(super) struct EvidenceIds {
    next: u64,
    ring: VecDeque<(u64, String)>,
}

impl EvidenceIds {
    /// A new id for record `seq` of `replica`.
    pub fn assign(&mut self, replica: &str, seq: u64) -> u64 {
        self.next += 1;
        let id = REMOTE | self.next;
        if self.ring.len() == REMEMBERED {
            self.ring.pop_front();
        }
        self.ring.push_back((id, format!("{replica}:{seq}")));
        id
    }

    /// The engine's evidence as local seqs and `<replica>:<seq>` of remote records.
    pub fn split(&self, evidence: &[u64]) -> (Vec<u64>, Vec<String>) {
        let (remote, local): (Vec<u64>, Vec<u64>) =
            evidence.iter().partition(|id| **id & REMOTE != 0);
        let named = remote
            .iter()
            .filter_map(|id| {
                let at = self.ring.binary_search_by_key(id, |(i, _)| *i).ok()?;
                Some(self.ring[at].1.clone())
            })
            .collect();
        (local, named)
    }
}

/// Starts the feed: the other replicas' records since `since_ns` (the baseline window,
/// learned silently at restore) and a channel of the records shipped after them. When
/// the database cannot be read now, the history is empty and the feed task keeps
/// trying to start (at the replicas' heads then).
pub(super) async fn start_feed(
    fleet: Fleet,
    since_ns: i64,
    stats: Arc<FeedStats>,
    stop: CancellationToken,
) -> (mpsc::Receiver<Vec<RemoteRecord>>, Vec<RemoteRecord>) {
    let (tx, rx) = mpsc::channel(16);
    let (feed, history) = match AuditFeed::start(fleet.clone(), since_ns).await {
        Ok((feed, history)) => {
            tracing::info!(
                records = history.len(),
                "analytics: the other replicas' history read from the fleet database"
            );
            (Some(feed), history)
        }
        Err(e) => {
            tracing::warn!(error = %e, "analytics: the other replicas' history cannot be read; their records are fed from when the fleet database answers");
            (None, Vec::new())
        }
    };
    tokio::spawn(feed_loop(fleet, feed, tx, stats, stop));
    (rx, history)
}

async fn feed_loop(
    fleet: Fleet,
    mut feed: Option<AuditFeed>,
    tx: mpsc::Sender<Vec<RemoteRecord>>,
    stats: Arc<FeedStats>,
    stop: CancellationToken,
) {
    let mut signals = fleet.listen(warden_fleet::feed::CHANNEL);
    let mut failing: Option<Instant> = None;
    let mut warned: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(FEED_EVERY) => {}
            s = signals.recv() => match s {
                Some(Signal::Notified(from)) if from == fleet.replica_id() => continue,
                Some(_) => {}
                None => signals = fleet.listen(warden_fleet::feed::CHANNEL),
            },
        }
        let result = match feed.as_mut() {
            Some(f) => f.next().await,
            None => match AuditFeed::start(fleet.clone(), i64::MAX).await {
                Ok((f, _)) => {
                    feed = Some(f);
                    Ok(Vec::new())
                }
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(batch) => {
                if let Some(since) = failing.take() {
                    tracing::info!(
                        "analytics feed from the fleet database resumed after {:.1}s",
                        since.elapsed().as_secs_f64()
                    );
                }
                if let Some(newest) = batch.last() {
                    let lag_ms = (warden_audit::record::now_ns() - newest.time_ns) / 1_000_000;
                    stats
                        .lag_ms
                        .store(u64::try_from(lag_ms).unwrap_or(0), Ordering::Relaxed);
                    stats
                        .records
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    if lag_ms >= 5_000 {
                        tracing::info!(
                            records = batch.len(),
                            lag_ms,
                            "analytics feed: other replicas' records {:.1}s behind",
                            lag_ms as f64 / 1000.0
                        );
                    } else {
                        tracing::debug!(
                            records = batch.len(),
                            lag_ms,
                            "analytics feed: records of other replicas"
                        );
                    }
                    if tx.send(batch).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                stats.failures.fetch_add(1, Ordering::Relaxed);
                let since = *failing.get_or_insert_with(Instant::now);
                if warned.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                    tracing::warn!(error = %e, "analytics feed from the fleet database failing for {:.1}s; the other replicas' records are fed when it is back", since.elapsed().as_secs_f64());
                    warned = Some(Instant::now());
                }
            }
        }
    }
}

/// Whether this replica records `alert` (id `id`): it won the claim, or the claim
/// could not be made (logged; fail towards alerting).
pub(super) async fn claim(fleet: &Fleet, alert: &Alert, id: &str, suppress_ns: i64) -> bool {
    let raised_ns = i64::try_from(alert.time.unix_timestamp_nanos()).unwrap_or(i64::MAX);
    let key = format!("{}|{:016x}", alert.detector, alert.subject);
    let detector = alert.detector.to_string();
    let c = AlertClaim {
        key: &key,
        id,
        detector: &detector,
        raised_ns,
        until_ns: raised_ns.saturating_add(suppress_ns.max(1)),
    };
    match warden_fleet::alerts::claim(fleet, &c).await {
        Ok(won) => {
            if !won {
                tracing::debug!(%key, "analytics: alert already raised by another replica");
            }
            won
        }
        Err(e) => {
            tracing::warn!(error = %e, detector = %alert.detector, "analytics: the fleet alert claim failed; recording the alert here (another replica may record it too)");
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_evidence_names_its_replica_and_seq_and_local_seqs_stay() {
        let mut ids = EvidenceIds::default();
        let b17 = ids.assign("b", 17);
        let c3 = ids.assign("c", 3);
        assert_ne!(b17, c3);
        let (local, remote) = ids.split(&[4, 9, b17, c3]);
        assert_eq!(local, vec![4, 9]);
        assert_eq!(remote, vec!["b:17".to_string(), "c:3".to_string()]);
    }

    #[test]
    fn forgotten_remote_evidence_is_left_out_not_misnamed() {
        let mut ids = EvidenceIds::default();
        let first = ids.assign("b", 1);
        for seq in 2..=(REMEMBERED as u64 + 1) {
            ids.assign("b", seq);
        }
        let last = ids.assign("c", 1);
        assert_eq!(ids.split(&[first, last]).1, vec!["c:1".to_string()]);
    }
}
