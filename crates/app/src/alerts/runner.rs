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

/// How often the runner reads what the feed gathered.
pub const DRAIN_EVERY: Duration = Duration::from_millis(100);

/// Start the runner (on the current tokio runtime); it ends when `stop` is cancelled.
/// Returns its task and the engine's shared view for the console. `Err` when the
/// settings do not compile (config validation should have caught that).
pub fn spawn(
    audit: AuditLog,
    book: Arc<AlertBook>,
    settings: &Settings,
    stop: CancellationToken,
) -> Result<(JoinHandle<()>, Arc<Baselines>), String> {
    let engine = Engine::new(settings).map_err(|e| e.to_string())?;
    let baselines = Arc::new(Baselines::new(engine));
    let feed = audit.subscribe();
    let engine = Arc::clone(&baselines);
    let task = tokio::spawn(async move {
        let restored = tokio::task::spawn_blocking(move || {
            let mut runner = Runner {
                audit,
                book,
                engine,
            };
            let last = runner.restore();
            (runner, last)
        })
        .await;
        let Ok((runner, last)) = restored else {
            tracing::error!("analytics: restoring baselines failed; alerts are off");
            return;
        };
        runner.live(feed, last, stop).await;
    });
    Ok((task, baselines))
}

struct Runner {
    audit: AuditLog,
    book: Arc<AlertBook>,
    engine: Arc<Baselines>,
}

impl Runner {
    async fn live(
        mut self,
        mut feed: tokio::sync::broadcast::Receiver<Record>,
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
        }
    }

    /// Learn the baseline window silently; returns the head seq it learned through.
    fn restore(&mut self) -> u64 {
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
        for seq in start..=head {
            if let Ok(Some(rec)) = self.audit.get(seq) {
                self.book.apply(&rec);
                self.engine.learn(&rec);
            }
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
        self.book.apply(rec);
        if matches!(
            rec.event.kind,
            EventKind::AlertRaised | EventKind::AlertAcknowledged | EventKind::AlertResolved
        ) {
            return;
        }
        let raised = self.engine.observe(rec);
        for alert in raised {
            let ev = raised_event(&alert);
            if let Err(e) = self.audit.append(ev, Durability::Queued).await {
                tracing::error!(error = %e, detector = %alert.detector, "analytics: cannot record an alert");
            }
        }
    }
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
