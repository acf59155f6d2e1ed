//! Turning `?user=&target=&verdict=&since=&until=&q=&limit=&after=` into an audit
//! query, shared by the JSON API and the audit explorer page.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use warden_audit::Record;

use crate::app::App;
use crate::error::WebError;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 1000;

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct AuditParams {
    pub user: Option<String>,
    pub target: Option<String>,
    pub verdict: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub q: Option<String>,
    pub limit: Option<usize>,
    pub after: Option<u64>,
    /// `true`: every replica's records (fleet mode); paged with `cursor`, not `after`.
    pub fleet: Option<bool>,
    /// The `next` of the previous fleet page.
    pub cursor: Option<String>,
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn time_param(name: &str, s: &Option<String>) -> Result<Option<OffsetDateTime>, WebError> {
    match nonempty(s) {
        None => Ok(None),
        Some(v) => OffsetDateTime::parse(&v, &Rfc3339).map(Some).map_err(|e| {
            WebError::BadRequest(format!(
                "{name} must be RFC3339 (2026-01-31T12:00:00Z): {e}"
            ))
        }),
    }
}

/// One page of records, newest first, plus the cursor for the next page.
pub struct AuditPage {
    pub records: Vec<Record>,
    pub next: Option<u64>,
}

/// The audit query the parameters describe (time filters checked).
pub fn build_query(p: &AuditParams) -> Result<warden_audit::Query, WebError> {
    let verdict = nonempty(&p.verdict);
    if let Some(v) = &verdict {
        if !matches!(v.as_str(), "allow" | "deny" | "hold") {
            return Err(WebError::BadRequest(format!(
                "verdict must be allow, deny or hold, not `{v}`"
            )));
        }
    }
    Ok(warden_audit::Query {
        since: time_param("since", &p.since)?,
        until: time_param("until", &p.until)?,
        user: nonempty(&p.user),
        target: nonempty(&p.target),
        verdict,
        text: nonempty(&p.q),
        after: p.after,
        limit: p.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
    })
}

pub fn run_query(app: &App, p: &AuditParams) -> Result<AuditPage, WebError> {
    let query = build_query(p)?;
    let page = app
        .state()
        .audit
        .query(&query)
        .map_err(|e| WebError::Audit(e.to_string()))?;
    Ok(AuditPage {
        records: page.records,
        next: page.next,
    })
}
