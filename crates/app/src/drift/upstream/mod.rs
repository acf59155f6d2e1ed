//! Upstream drift for postgres targets: every `postgres.drift.interval`, read the
//! target's schema and privileges ([`catalog`]), compare with the previous read
//! ([`compare`]), and raise one `config-drift` alert listing every change that no
//! statement audited through Warden explains ([`attribution`]).
//!
//! The first read of a run is the baseline (recorded as `upstream_fingerprinted`, no
//! alert): changes made while Warden was stopped are not seen. A poll that cannot
//! connect or read keeps the last fingerprint, is logged, and is audited once as
//! `drift_poll_failed` when the target starts failing. Must never write upstream, never
//! stop the gateway, and never raise an alert for a change Warden audited.

pub mod attribution;
pub mod catalog;
pub mod compare;

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use warden_audit::{AuditLog, Durability, Event, EventKind};
use warden_config::TargetConfig;
use warden_inspect::Protocol;

use super::alert;
use catalog::Fingerprint;

/// How far before the previous poll audited statements still count: a statement decided
/// just before a read may run just after it.
const SLACK: Duration = Duration::from_secs(5);

/// What one poll found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    /// The first read: nothing to compare with.
    Baseline,
    Unchanged,
    /// Changes, split into those a Warden-audited statement explains and the others
    /// (which raised an alert).
    Changed {
        through_warden: Vec<String>,
        around_warden: Vec<String>,
    },
    /// The read failed; the previous fingerprint is kept.
    Failed(String),
}

/// One target's poller.
pub struct DriftPoller {
    target: Arc<TargetConfig>,
    audit: AuditLog,
    last: Option<(Fingerprint, OffsetDateTime)>,
    failing: bool,
}

/// Start a poller for every postgres target with `postgres.drift.enabled`.
pub fn spawn_all(
    targets: &[Arc<TargetConfig>],
    audit: &AuditLog,
    shutdown: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    targets
        .iter()
        .filter(|t| t.protocol == Protocol::Postgres && t.postgres.drift.enabled)
        .map(|t| DriftPoller::new(Arc::clone(t), audit.clone()).spawn(shutdown.child_token()))
        .collect()
}

impl DriftPoller {
    pub fn new(target: Arc<TargetConfig>, audit: AuditLog) -> DriftPoller {
        DriftPoller {
            target,
            audit,
            last: None,
            failing: false,
        }
    }

    /// Poll every interval until `shutdown`.
    pub fn spawn(mut self, shutdown: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(self.target.postgres.drift.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tick.tick() => {}
                }
                self.poll().await;
            }
        })
    }

    /// Read, compare, attribute, record, alert.
    pub async fn poll(&mut self) -> PollOutcome {
        let started = OffsetDateTime::now_utc();
        let clock = std::time::Instant::now();
        let bound = self.target.postgres.connect_timeout() * 4;
        let read = match tokio::time::timeout(bound, catalog::read(&self.target)).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {}s", bound.as_secs())),
        };
        let took = clock.elapsed().as_millis();
        let fp = match read {
            Ok(fp) => fp,
            Err(e) => return self.failed(e).await,
        };
        if self.failing {
            tracing::info!(target_name = %self.target.name, "drift poll works again");
            self.failing = false;
        }
        let Some((old, since)) = self.last.take() else {
            self.record(&fp, &format!("read in {took} ms; baseline"))
                .await;
            self.last = Some((fp, started));
            return PollOutcome::Baseline;
        };
        let changes = compare::changes(&old, &fp);
        if changes.is_empty() {
            self.last = Some((fp, started));
            return PollOutcome::Unchanged;
        }
        let window = since - SLACK;
        let (audit, name) = (self.audit.clone(), self.target.name.clone());
        let audited =
            tokio::task::spawn_blocking(move || attribution::audited_since(&audit, &name, window))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
        // Fail closed: when the chain cannot be read, nothing counts as audited.
        let audited = audited.unwrap_or_else(|e| {
            tracing::error!(target_name = %self.target.name, error = %e, "drift: cannot read the audit log; every change is reported");
            Vec::new()
        });
        let (through, around): (Vec<_>, Vec<_>) = changes
            .into_iter()
            .partition(|c| attribution::explained(c, &audited));
        let through_warden: Vec<String> = through.into_iter().map(|c| c.text).collect();
        let around_warden: Vec<String> = around.into_iter().map(|c| c.text).collect();
        self.record(
            &fp,
            &format!(
                "read in {took} ms; {} changes made through Warden, {} around it",
                through_warden.len(),
                around_warden.len()
            ),
        )
        .await;
        if !around_warden.is_empty() {
            let summary = format!(
                "target {}: {} upstream change(s) with no matching statement audited by Warden since {}: {}",
                self.target.name,
                around_warden.len(),
                since.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                around_warden.first().map(String::as_str).unwrap_or("")
            );
            alert::raise(
                &self.audit,
                Some(&self.target.name),
                &summary,
                &around_warden.join("\n"),
            )
            .await;
        }
        self.last = Some((fp, started));
        PollOutcome::Changed {
            through_warden,
            around_warden,
        }
    }

    async fn failed(&mut self, error: String) -> PollOutcome {
        tracing::warn!(target_name = %self.target.name, %error, "drift poll failed; the last fingerprint is kept");
        if !self.failing {
            self.failing = true;
            let mut ev = Event::new(EventKind::DriftPollFailed);
            ev.target = Some(self.target.name.clone());
            ev.detail = Some(format!(
                "cannot fingerprint {} (database {}): {error}",
                self.target.upstream,
                catalog::database(&self.target)
            ));
            if let Err(e) = self.audit.append(ev, Durability::Durable).await {
                tracing::error!(error = %e, "could not audit a failed drift poll");
            }
        }
        PollOutcome::Failed(error)
    }

    async fn record(&self, fp: &Fingerprint, what: &str) {
        let mut ev = Event::new(EventKind::UpstreamFingerprinted);
        ev.target = Some(self.target.name.clone());
        ev.detail = Some(format!(
            "database {}: {}; sha256 {}; {what}",
            catalog::database(&self.target),
            fp.counts(),
            fp.digest()
        ));
        if let Err(e) = self.audit.append(ev, Durability::Queued).await {
            tracing::error!(error = %e, "could not record an upstream fingerprint");
        }
    }
}
