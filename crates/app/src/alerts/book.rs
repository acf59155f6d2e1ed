//! The alert book: alerts by id with their status, built only from `alert_raised`,
//! `alert_acknowledged` and `alert_resolved` records. It also answers the login
//! throttle: an open or acknowledged alert with a lock in force refuses the login of
//! its user (or from its address).
//!
//! In fleet mode the runner also applies the other replicas' `alert_*` records (read
//! back through the fleet database), so every replica's book holds the fleet's alerts
//! and an acknowledgement or resolution made on any replica.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use warden_audit::{EventKind, Record};
use warden_gate::auth::{LockNotice, LoginLocks};
use warden_gate::OpenAlerts;

/// The most alerts kept; the oldest resolved ones go first.
const CAPACITY: usize = 10_000;

/// One alert as the console and API show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertEntry {
    pub id: String,
    pub detector: String,
    pub severity: String,
    /// `open`, `acknowledged` or `resolved`.
    pub status: &'static str,
    pub user: Option<String>,
    pub client_addr: Option<String>,
    pub target: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub raised_at: OffsetDateTime,
    /// Seq of the `alert_raised` record (in the chain of `replica` in fleet mode).
    pub raised_seq: u64,
    /// Fleet mode: the replica whose chain holds the `alert_raised` record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
    pub explanation: String,
    pub evidence: Vec<u64>,
    /// Fleet mode: evidence in other replicas' chains, `<replica>:<seq>`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fleet_evidence: Vec<String>,
    /// Unix seconds until which the lock refuses logins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_until: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<String>,
    /// The reason given with the last acknowledgement or resolution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Alerts by id.
#[derive(Debug, Default)]
pub struct AlertBook {
    alerts: Mutex<BTreeMap<String, AlertEntry>>,
}

impl AlertBook {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, AlertEntry>> {
        self.alerts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Apply one audit record of this replica's chain (anything but an `alert_*`
    /// record is ignored).
    pub fn apply(&self, rec: &Record) {
        self.apply_from(rec, None);
    }

    /// Apply one audit record of the chain of `replica` (fleet mode: this replica's or
    /// another's, read back through the fleet database).
    pub fn apply_from(&self, rec: &Record, replica: Option<&str>) {
        let Some(a) = &rec.event.alert else { return };
        let mut alerts = self.lock();
        match rec.event.kind {
            EventKind::AlertRaised => {
                alerts.entry(a.id.clone()).or_insert_with(|| AlertEntry {
                    id: a.id.clone(),
                    detector: a.detector.clone(),
                    severity: a.severity.clone(),
                    status: "open",
                    user: a.user.clone(),
                    client_addr: a.client_addr.clone(),
                    target: rec.event.target.clone(),
                    raised_at: rec.time,
                    raised_seq: rec.seq,
                    replica: replica.map(str::to_string),
                    explanation: a.explanation.clone().unwrap_or_default(),
                    evidence: a.evidence.clone(),
                    fleet_evidence: a.fleet_evidence.clone(),
                    lock_until: a.lock_until,
                    lock_subject: a.lock_subject.clone(),
                    acknowledged_by: None,
                    resolved_by: None,
                    reason: None,
                });
                if alerts.len() > CAPACITY {
                    evict(&mut alerts);
                }
            }
            EventKind::AlertAcknowledged | EventKind::AlertResolved => {
                let Some(entry) = alerts.get_mut(&a.id) else {
                    return;
                };
                let by = rec.event.actor.as_ref().map(|x| x.name.clone());
                if rec.event.kind == EventKind::AlertResolved {
                    entry.status = "resolved";
                    entry.resolved_by = by;
                } else if entry.status == "open" {
                    entry.status = "acknowledged";
                    entry.acknowledged_by = by;
                }
                entry.reason = a.reason.clone();
            }
            _ => {}
        }
    }

    pub fn get(&self, id: &str) -> Option<AlertEntry> {
        self.lock().get(id).cloned()
    }

    /// Alerts matching the filters: open first, then acknowledged, then resolved;
    /// newest first within each.
    pub fn list(
        &self,
        status: Option<&str>,
        user: Option<&str>,
        detector: Option<&str>,
    ) -> Vec<AlertEntry> {
        let mut out: Vec<AlertEntry> = self
            .lock()
            .values()
            .filter(|e| status.is_none_or(|s| e.status == s))
            .filter(|e| user.is_none_or(|u| e.user.as_deref() == Some(u)))
            .filter(|e| detector.is_none_or(|d| e.detector == d))
            .cloned()
            .collect();
        let rank = |s: &str| match s {
            "open" => 0,
            "acknowledged" => 1,
            _ => 2,
        };
        out.sort_by(|a, b| {
            rank(a.status)
                .cmp(&rank(b.status))
                .then(b.raised_at.cmp(&a.raised_at))
                .then(b.raised_seq.cmp(&a.raised_seq))
        });
        out
    }

    /// Detectors of the user's alerts that are not resolved.
    pub fn open_detectors(&self, user: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .lock()
            .values()
            .filter(|e| e.status != "resolved" && e.user.as_deref() == Some(user))
            .map(|e| e.detector.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Drop the oldest resolved alert (else the oldest of all).
fn evict(alerts: &mut BTreeMap<String, AlertEntry>) {
    let victim = alerts
        .values()
        .filter(|e| e.status == "resolved")
        .min_by_key(|e| (e.raised_at, e.raised_seq))
        .or_else(|| alerts.values().min_by_key(|e| (e.raised_at, e.raised_seq)))
        .map(|e| e.id.clone());
    if let Some(id) = victim {
        alerts.remove(&id);
    }
}

impl OpenAlerts for AlertBook {
    fn open_detectors(&self, user: &str) -> Vec<String> {
        AlertBook::open_detectors(self, user)
    }
}

impl LoginLocks for AlertBook {
    fn locked(&self, user: &str, ip: Option<IpAddr>) -> Option<LockNotice> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let ip = ip.map(|i| i.to_string());
        self.lock()
            .values()
            .filter(|e| e.status != "resolved")
            .filter_map(|e| {
                let until = e.lock_until.filter(|u| *u > now)?;
                let applies = match e.lock_subject.as_deref() {
                    Some("address") => ip.is_some() && e.client_addr == ip,
                    _ => e.user.as_deref() == Some(user),
                };
                applies.then(|| LockNotice {
                    retry_after: Duration::from_secs((until - now) as u64),
                    reason: format!(
                        "locked by alert {} ({}); an admin or security user can resolve it",
                        e.id, e.detector
                    ),
                })
            })
            .max_by_key(|n| n.retry_after)
    }
}
