//! The console's view of the alert book ([`warden_web::AlertDesk`]): list, and
//! acknowledge / resolve, each recorded durably in the chain and applied to the book
//! from the record written; a user's baseline from the live engine; the insights charts.

use std::sync::Arc;

use futures::future::BoxFuture;
use warden_analytics::insights::{Filter, FilterError, Report};
use warden_analytics::UserBaseline;
use warden_audit::{AlertRef, AuditLog, Durability, Event, EventKind};
use warden_inspect::Actor;
use warden_web::{AlertDesk, AlertDeskError};

use super::baselines::Baselines;
use super::book::AlertBook;

/// The book, the live engine's baselines, and the audit log decisions are recorded in.
pub struct Desk {
    pub book: Arc<AlertBook>,
    pub baselines: Arc<Baselines>,
    pub audit: AuditLog,
}

impl AlertDesk for Desk {
    fn baseline(&self, user: &str) -> Option<UserBaseline> {
        self.baselines.user(user)
    }

    fn insights(&self, filter: &Filter) -> Option<Result<Report, FilterError>> {
        Some(self.baselines.report(filter))
    }

    fn list(
        &self,
        status: Option<&str>,
        user: Option<&str>,
        detector: Option<&str>,
    ) -> Vec<serde_json::Value> {
        self.book
            .list(status, user, detector)
            .into_iter()
            .filter_map(|e| serde_json::to_value(e).ok())
            .collect()
    }

    fn decide(
        &self,
        id: String,
        resolve: bool,
        by: Actor,
        reason: String,
    ) -> BoxFuture<'static, Result<serde_json::Value, AlertDeskError>> {
        let (book, audit) = (Arc::clone(&self.book), self.audit.clone());
        Box::pin(async move {
            let entry = book
                .get(&id)
                .ok_or_else(|| AlertDeskError::NotFound(id.clone()))?;
            if entry.status == "resolved" {
                return Err(AlertDeskError::Conflict(format!(
                    "alert {id} is already resolved"
                )));
            }
            let kind = if resolve {
                EventKind::AlertResolved
            } else {
                EventKind::AlertAcknowledged
            };
            let mut ev = Event::new(kind);
            ev.actor = Some(by);
            ev.target = entry.target.clone();
            ev.alert = Some(AlertRef {
                id: id.clone(),
                detector: entry.detector.clone(),
                severity: entry.severity.clone(),
                user: entry.user.clone(),
                client_addr: entry.client_addr.clone(),
                reason: Some(reason),
                ..AlertRef::default()
            });
            let seq = audit
                .append(ev, Durability::Durable)
                .await
                .map_err(|e| AlertDeskError::Audit(e.to_string()))?;
            let read = tokio::task::spawn_blocking(move || audit.get(seq)).await;
            if let Ok(Ok(Some(rec))) = read {
                book.apply(&rec);
            }
            let now = book.get(&id).ok_or(AlertDeskError::NotFound(id))?;
            serde_json::to_value(now).map_err(|e| AlertDeskError::Audit(e.to_string()))
        })
    }
}
