//! `GET /api/v1/audit?fleet=true`: the audit records of every replica of a fleet, newest
//! first in one time order, with the same filters as a local query and a `cursor` to
//! page on. The gateway's [`FleetAudit`] reads them from the fleet database.
//!
//! Read-only: this module must never write an audit record or touch the fleet database
//! itself, and never answer a fleet query from the local chain alone (a gateway without
//! `fleet:` refuses it).

use futures::future::BoxFuture;

/// One record of the fleet and the replica whose chain holds it.
#[derive(Debug, Clone)]
pub struct FleetAuditRecord {
    pub replica: String,
    pub record: warden_audit::Record,
}

impl FleetAuditRecord {
    /// The record's JSON (as a local query gives it) with `replica` added.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.record).unwrap_or_default();
        if let Some(obj) = v.as_object_mut() {
            obj.insert("replica".into(), self.replica.clone().into());
        }
        v
    }
}

/// One page of the fleet's records, newest first.
#[derive(Debug, Default)]
pub struct FleetAuditPage {
    pub records: Vec<FleetAuditRecord>,
    /// Pass as `cursor` for the next page; `None` at the end.
    pub next: Option<String>,
}

/// Why a fleet query gave no page.
#[derive(Debug, thiserror::Error)]
pub enum FleetAuditError {
    /// The caller's cursor is not one `next` gave.
    #[error("{0}")]
    BadCursor(String),
    /// The fleet database did not answer.
    #[error("{0}")]
    Unavailable(String),
}

/// What the console needs from the gateway for fleet-wide audit queries.
pub trait FleetAudit: Send + Sync {
    /// Records passing `query` (its `after` is ignored), newest first, at most
    /// `query.limit`, starting after `cursor`.
    fn query(
        &self,
        query: warden_audit::Query,
        cursor: Option<String>,
    ) -> BoxFuture<'static, Result<FleetAuditPage, FleetAuditError>>;
}

/// A fleet page for `params` from the gateway's [`FleetAudit`] (`fleet=true`); the
/// errors as the API and the page show them.
pub async fn run_fleet_query(
    app: &crate::app::App,
    params: &crate::audit_query::AuditParams,
) -> Result<FleetAuditPage, crate::error::WebError> {
    use crate::error::WebError;
    let Some(fleet) = app.state().fleet_audit.clone() else {
        return Err(WebError::BadRequest(
            "fleet=true needs fleet mode (a `fleet:` section in warden.yaml); this gateway has only its own audit chain".into(),
        ));
    };
    if params.after.is_some() {
        return Err(WebError::BadRequest(
            "a fleet query pages with cursor (the `next` it gave), not after".into(),
        ));
    }
    let query = crate::audit_query::build_query(params)?;
    fleet
        .query(query, params.cursor.clone())
        .await
        .map_err(|e| match e {
            FleetAuditError::BadCursor(m) => WebError::BadRequest(m),
            FleetAuditError::Unavailable(m) => WebError::Audit(format!("fleet database: {m}")),
        })
}
