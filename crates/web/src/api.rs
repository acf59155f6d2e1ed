//! The JSON API of INTERFACE.md (`/api/v1/...`). Basic auth or session cookie (with
//! the `x-csrf-token` header on POST). Errors are JSON (`error.rs`).
//!
//! Handlers never decide on actions; approve/deny go through `Approvals`, which
//! enforces who may decide.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use warden_approval::{ApprovalRequest, ApprovalState};

use crate::app::App;
use crate::audit_query::{run_query, AuditParams};
use crate::auth::{Authed, CSRF_HEADER};
use crate::error::WebError;

/// An approval request as the API returns it: the stored record plus its console URL.
#[derive(Debug, Serialize)]
pub struct ApprovalView {
    #[serde(flatten)]
    pub request: ApprovalRequest,
    pub url: String,
    pub remaining: u32,
}

impl ApprovalView {
    pub fn new(app: &App, request: ApprovalRequest) -> ApprovalView {
        let url = app.state().approvals.url_for(&request.id);
        let remaining = if request.state == ApprovalState::Pending {
            request.remaining()
        } else {
            0
        };
        ApprovalView {
            request,
            url,
            remaining,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ListParams {
    pub state: Option<String>,
}

pub async fn list_approvals(
    State(app): State<App>,
    _who: Authed,
    Query(params): Query<ListParams>,
) -> Result<impl IntoResponse, WebError> {
    let state = match params.state.as_deref() {
        None | Some("") | Some("all") => None,
        Some(s) => Some(ApprovalState::parse(s).ok_or_else(|| {
            WebError::BadRequest(format!(
                "unknown state `{s}`; expected pending, approved, denied, expired, withdrawn, executed or all"
            ))
        })?),
    };
    let items: Vec<ApprovalView> = app
        .state()
        .approvals
        .list(state)
        .into_iter()
        .map(|r| ApprovalView::new(&app, r))
        .collect();
    Ok(Json(serde_json::json!({ "approvals": items })))
}

pub async fn get_approval(
    State(app): State<App>,
    _who: Authed,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, WebError> {
    let req = app
        .state()
        .approvals
        .get(&id)
        .ok_or_else(|| WebError::NotFound(format!("approval {id}")))?;
    Ok(Json(ApprovalView::new(&app, req)))
}

#[derive(Debug, Default, Deserialize)]
pub struct DecisionBody {
    pub reason: Option<String>,
}

/// Cookie sessions must send the CSRF header on API POSTs whatever the content type
/// (the extractor lets urlencoded bodies through for the HTML forms, which carry the
/// token in a field; the API has no such field). Basic auth needs no token.
pub(crate) fn decision_body(
    who: &Authed,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<DecisionBody, WebError> {
    who.check_csrf(headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()))?;
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(DecisionBody::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        WebError::BadRequest(format!("body must be JSON {{\"reason\": \"...\"}}: {e}"))
    })
}

pub(crate) fn clean_reason(r: Option<String>) -> Option<String> {
    r.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

pub async fn approve(
    State(app): State<App>,
    who: Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, WebError> {
    let body = decision_body(&who, &headers, &body)?;
    let req = app
        .state()
        .approvals
        .approve(&id, &who.user.actor(), clean_reason(body.reason))
        .await?;
    Ok(Json(ApprovalView::new(&app, req)))
}

pub async fn deny(
    State(app): State<App>,
    who: Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, WebError> {
    let body = decision_body(&who, &headers, &body)?;
    let req = app
        .state()
        .approvals
        .deny(&id, &who.user.actor(), clean_reason(body.reason))
        .await?;
    Ok(Json(ApprovalView::new(&app, req)))
}

fn require_audit_reader(who: &Authed) -> Result<(), WebError> {
    if who.user.can_read_audit() {
        Ok(())
    } else {
        Err(WebError::Forbidden(format!(
            "{} needs role viewer or admin to read the audit log",
            who.user.name
        )))
    }
}

pub async fn audit(
    State(app): State<App>,
    who: Authed,
    Query(params): Query<AuditParams>,
) -> Result<impl IntoResponse, WebError> {
    require_audit_reader(&who)?;
    if params.fleet == Some(true) {
        return fleet_audit(&app, &params).await.map(Json);
    }
    if params.cursor.is_some() {
        return Err(WebError::BadRequest(
            "cursor pages a fleet query (fleet=true); a local query pages with after".into(),
        ));
    }
    let page = run_query(&app, &params)?;
    Ok(Json(
        serde_json::json!({ "records": page.records, "next": page.next }),
    ))
}

/// `fleet=true`: every replica's records, from the fleet database.
async fn fleet_audit(app: &App, params: &AuditParams) -> Result<serde_json::Value, WebError> {
    let page = crate::fleet_audit::run_fleet_query(app, params).await?;
    let records: Vec<serde_json::Value> = page.records.iter().map(|r| r.to_json()).collect();
    Ok(serde_json::json!({ "records": records, "next": page.next }))
}

pub async fn audit_verify(
    State(app): State<App>,
    who: Authed,
) -> Result<impl IntoResponse, WebError> {
    require_audit_reader(&who)?;
    let status = app.verify_chain().await?;
    Ok(Json(serde_json::json!({
        "ok": status.ok,
        "records": status.records,
        "head": status.head,
        "problem": status.problem,
    })))
}

/// The served targets (name, protocol, listen address, labels, SSH host key
/// fingerprint): what a client needs to connect and check it reached Warden.
pub async fn targets(State(app): State<App>, who: Authed) -> Result<impl IntoResponse, WebError> {
    require_audit_reader(&who)?;
    Ok(Json(serde_json::json!({ "targets": app.state().targets })))
}

pub async fn healthz(State(app): State<App>) -> impl IntoResponse {
    let (seq, head) = app.state().audit.head();
    Json(serde_json::json!({ "ok": true, "audit": { "seq": seq, "head": head } }))
}
