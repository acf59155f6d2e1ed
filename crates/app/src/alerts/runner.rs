//! The live runner: one task that reads the audit log's append feed, feeds each record
//! to the analytics engine and records every alert it raises as `alert_raised`.
//!
//! At start it subscribes first, then learns the last baseline window of the chain
//! silently on the blocking pool (baselines and the alert book come back; nothing
//! already judged raises again), then judges what the feed brings until `stop`. A gap
//! in the feed (the task fell behind the broadcast buffer) is filled from the store by
//! seq. Must never block an append: it only reads the feed and makes queued appends of
//! its own. It drains the feed every [`DRAIN_EVERY`] instead of waking for each record:
//! a busy gateway then wakes it ten times a second, not once per statement (each wake-up
//! is a thread hand-off on the connections' own cores), and alerts still come well
//! inside a second (benches/analytics/live_overhead.sh measures the difference). The engine sits in [`Baselines`] so that the console can read a user's
//! baseline between two records.
//!
//! Fleet mode (`super::fleet`): the restore also learns the other replicas' records of
//! the window (merged in time order with the local ones), the live loop judges their
//! new records as they arrive through the feed, and an alert is recorded only when
//! this replica wins its claim. Other replicas' records are never appended here.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::sync::broadcast::error::TryRecvError;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use warden_analytics::{Alert, Engine, LockSubject, Settings};
use warden_audit::{AlertRef, AuditLog, Durability, Event, EventKind, Query, Record};
use warden_inspect::Actor;

use super::baselines::Baselines;
use super::book::AlertBook;
use super::fleet::{self as fleet_mode, EvidenceIds, FeedStats};
use warden_fleet::{Fleet, RemoteRecord};

/// How often the runner reads what the feed gathered.
pub const DRAIN_EVERY: Duration = Duration::from_millis(100);

/// Start the runner (on the current tokio runtime); it ends when `stop` is cancelled.
/// Returns its task and the engine's shared view for the console. `Err` when the
/// settings do not compile (config validation should have caught that). With `fleet`,
/// the engine sees the other replicas' records too (the feed counts into its stats).
pub fn spawn(
    audit: AuditLog,
    book: Arc<AlertBook>,
    settings: &Settings,
    stop: CancellationToken,
    fleet: Option<(Fleet, Arc<FeedStats>)>,
) -> Result<(JoinHandle<()>, Arc<Baselines>), String> {
    let engine = Engine::new(settings).map_err(|e| e.to_string())?;
    let baselines = Arc::new(Baselines::new(engine));
    let feed = audit.subscribe();
    let engine = Arc::clone(&baselines);
    let since = warden_audit::record::now_ns().saturating_sub(baselines.window_nanos());
    let task = tokio::spawn(async move {
        let (remote, history) = match &fleet {
            Some((f, stats)) => {
                let (rx, history) =
                    fleet_mode::start_feed(f.clone(), since, Arc::clone(stats), stop.clone()).await;
                (Some(rx), history)
            }
            None => (None, Vec::new()),
        };
        let fleet = fleet.map(|(f, _)| f);
        let restored = tokio::task::spawn_blocking(move || {
            let mut runner = Runner {
                audit,
                book,
                engine,
                me: fleet.as_ref().map(|f| f.replica_id().to_string()),
                fleet,
                ids: EvidenceIds::default(),
            };
            let last = runner.restore(history);
            (runner, last)
        })
        .await;
        let Ok((runner, last)) = restored else {
            tracing::error!("analytics: restoring baselines failed; alerts are off");
            return;
        };
        runner.live(feed, remote, last, stop).await;
    });
    Ok((task, baselines))
}

struct Runner {
    audit: AuditLog,
    book: Arc<AlertBook>,
    engine: Arc<Baselines>,
    /// Fleet mode: claims alerts; `None` embedded.
    fleet: Option<Fleet>,
    /// This replica's id in the fleet (`None` embedded).
    me: Option<String>,
    /// Evidence ids of the other replicas' records.
    ids: EvidenceIds,
}

impl Runner {
    async fn live(
        mut self,
        mut feed: tokio::sync::broadcast::Receiver<Arc<Record>>,
        mut remote: Option<tokio::sync::mpsc::Receiver<Vec<RemoteRecord>>>,
        mut last: u64,
        stop: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(DRAIN_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            loop {
                match feed.try_recv() {
                    Ok(rec) => {
                        if rec.seq <= last {
                            continue;
                        }
                        if rec.seq > last + 1 {
                            self.catch_up(last + 1, rec.seq - 1).await;
                        }
                        self.judge(&rec).await;
                        last = rec.seq;
                    }
                    // Fell behind the buffer: the next record's seq shows the gap, which
                    // is read back from the store.
                    Err(TryRecvError::Lagged(_)) => continue,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Closed) => return,
                }
            }
            while let Some(Ok(batch)) = remote.as_mut().map(|r| r.try_recv()) {
                for r in batch {
                    self.judge_remote(r).await;
                }
            }
        }
    }

    /// Learn the baseline window silently (and the other replicas' `history` of it, in
    /// time order with the local records); returns the head seq it learned through.
    fn restore(&mut self, history: Vec<RemoteRecord>) -> u64 {
        let (head, _) = self.audit.head();
        let window = self.engine.window_nanos();
        let since = OffsetDateTime::now_utc() - time::Duration::nanoseconds(window);
        let before = Query {
            until: Some(since),
            limit: 1,
            ..Query::default()
        };
        let start = match self.audit.query(&before) {
            Ok(page) => page.records.first().map_or(1, |r| r.seq + 1),
            Err(e) => {
                tracing::warn!(error = %e, "analytics: cannot find the baseline window; starting empty");
                head + 1
            }
        };
        let mut history = history.into_iter().peekable();
        for seq in start..=head {
            if let Ok(Some(rec)) = self.audit.get(seq) {
                let t = warden_audit::record::time_to_ns(rec.time);
                while let Some(r) = history.next_if(|r| r.time_ns <= t) {
                    self.learn_remote(r);
                }
                self.book.apply_from(&rec, self.me.as_deref());
                self.engine.learn(&rec);
            }
        }
        for r in history {
            self.learn_remote(r);
        }
        tracing::info!(
            records = head.saturating_sub(start) + 1,
            "analytics: baselines restored"
        );
        head
    }

    /// Judge records the feed skipped, read back from the store.
    async fn catch_up(&mut self, from: u64, to: u64) {
        let audit = self.audit.clone();
        let read = tokio::task::spawn_blocking(move || {
            (from..=to)
                .filter_map(|seq| match audit.get(seq) {
                    Ok(rec) => rec,
                    Err(e) => {
                        tracing::warn!(seq, error = %e, "analytics: cannot read a skipped record");
                        None
                    }
                })
                .collect::<Vec<Record>>()
        })
        .await;
        for rec in read.unwrap_or_default() {
            self.judge(&rec).await;
        }
    }

    async fn judge(&mut self, rec: &Record) {
        self.book.apply_from(rec, self.me.as_deref());
        if is_alert_record(rec) {
            return;
        }
        let raised = self.engine.observe(rec);
        self.raise(raised).await;
    }

    /// Another replica's record: its alert decisions go to the book, the rest to the
    /// engine (never to this chain).
    async fn judge_remote(&mut self, r: RemoteRecord) {
        self.book.apply_from(&r.record, Some(&r.replica));
        if is_alert_record(&r.record) {
            return;
        }
        let id = self.ids.assign(&r.replica, r.record.seq);
        let raised = self.engine.observe_remote(&r.record, id);
        self.raise(raised).await;
    }

    fn learn_remote(&mut self, r: RemoteRecord) {
        self.book.apply_from(&r.record, Some(&r.replica));
        if !is_alert_record(&r.record) {
            let id = self.ids.assign(&r.replica, r.record.seq);
            self.engine.learn_remote(&r.record, id);
        }
    }

    /// Records what the engine raised (in fleet mode, what this replica's claims won).
    async fn raise(&mut self, raised: Vec<Alert>) {
        for alert in raised {
            let mut ev = raised_event(&alert);
            if let Some(f) = &self.fleet {
                let suppress = self.engine.suppress_nanos(alert.detector);
                let id = ev.alert.as_ref().map(|a| a.id.clone()).unwrap_or_default();
                if !fleet_mode::claim(f, &alert, &id, suppress).await {
                    continue;
                }
                if let Some(a) = ev.alert.as_mut() {
                    (a.evidence, a.fleet_evidence) = self.ids.split(&alert.evidence);
                }
            }
            if let Err(e) = self.audit.append(ev, Durability::Queued).await {
                tracing::error!(error = %e, detector = %alert.detector, "analytics: cannot record an alert");
            }
        }
    }
}

fn is_alert_record(rec: &Record) -> bool {
    matches!(
        rec.event.kind,
        EventKind::AlertRaised | EventKind::AlertAcknowledged | EventKind::AlertResolved
    )
}

/// A stable id: the same alert (detector, subject, time, evidence) always gets it.
fn alert_id(a: &Alert) -> String {
    let mut h = Sha256::new();
    h.update(a.key().as_bytes());
    h.update(a.time.unix_timestamp_nanos().to_be_bytes());
    for seq in &a.evidence {
        h.update(seq.to_be_bytes());
    }
    id_from_digest(&h.finalize())
}

/// An alert id from a SHA-256 digest of what identifies the alert: `al-` and the
/// digest's first 6 bytes in hex. Every alert id (analytics, config drift) is made here.
pub fn id_from_digest(digest: &[u8]) -> String {
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("al-{hex}")
}

/// The `alert_raised` record of an alert.
pub fn raised_event(a: &Alert) -> Event {
    let mut ev = Event::new(EventKind::AlertRaised);
    ev.actor = a.user.as_ref().map(|name| Actor {
        name: name.clone(),
        roles: Vec::new(),
        client_addr: a.client_addr.clone(),
        alerts: Vec::new(),
    });
    ev.target = a.target.clone();
    ev.detail = Some(a.explanation.clone());
    ev.alert = Some(AlertRef {
        id: alert_id(a),
        detector: a.detector.to_string(),
        severity: a.severity.to_string(),
        user: a.user.clone(),
        client_addr: a.client_addr.clone(),
        explanation: Some(a.explanation.clone()),
        evidence: a.evidence.clone(),
        fleet_evidence: Vec::new(),
        lock_until: a
            .lock
            .as_ref()
            .map(|l| a.time.unix_timestamp() + l.seconds as i64),
        lock_subject: a.lock.as_ref().map(|l| match l.subject {
            LockSubject::User => "user".to_string(),
            LockSubject::Address => "address".to_string(),
        }),
        reason: None,
    });
    ev
}
