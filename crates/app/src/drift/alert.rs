//! The `config-drift` alert as an `alert_raised` record: the same record the analytics
//! runner writes, so the alert book, `/alerts`, the API and the `alert` webhooks show it
//! like any other alert. It is about a target (upstream drift) or about Warden itself
//! (policy files), never about a user, and never locks anyone out.
//!
//! Must never carry more than [`MAX_EXPLANATION`] bytes of diff or change list.

use time::OffsetDateTime;
use warden_audit::{AlertRef, AuditLog, Durability, Event, EventKind};

use super::unified::bounded;
use crate::alerts::runner::id_from_digest;
use sha2::{Digest, Sha256};

/// The detector name alerts and webhooks carry.
pub const DETECTOR: &str = "config-drift";
/// Largest explanation (summary line plus diff or change list), in bytes.
pub const MAX_EXPLANATION: usize = 8 * 1024;

/// An `alert_raised` record: `summary` is the first line; `body` (a diff or one change
/// per line) follows, cut to the bound.
pub fn drift_event(target: Option<&str>, summary: &str, body: &str) -> Event {
    let mut text = summary.to_string();
    if !body.is_empty() {
        text.push('\n');
        text.push_str(body);
    }
    let text = bounded(text, MAX_EXPLANATION);
    let now = OffsetDateTime::now_utc().unix_timestamp_nanos();
    let seed = format!("{DETECTOR}|{}|{now}|{text}", target.unwrap_or(""));
    let mut ev = Event::new(EventKind::AlertRaised);
    ev.target = target.map(str::to_string);
    ev.detail = Some(text.clone());
    ev.alert = Some(AlertRef {
        id: id_from_digest(&Sha256::digest(seed.as_bytes())),
        detector: DETECTOR.to_string(),
        severity: "high".to_string(),
        explanation: Some(text),
        ..AlertRef::default()
    });
    ev
}

/// Record a drift alert durably; a failure is logged (the caller's change stands or not
/// on its own merits) and returned as `None`.
pub async fn raise(
    audit: &AuditLog,
    target: Option<&str>,
    summary: &str,
    body: &str,
) -> Option<u64> {
    tracing::warn!(target_name = target.unwrap_or("warden"), %summary, "config drift");
    match audit
        .append(drift_event(target, summary, body), Durability::Durable)
        .await
    {
        Ok(seq) => Some(seq),
        Err(e) => {
            tracing::error!(error = %e, "could not record a config-drift alert");
            None
        }
    }
}
