//! `POST /api/v1/policies/proposals` with `{"files": [{"path", "content"}], "reason"}`:
//! put a new policy set up for review (`warden policy propose`). The gateway's
//! [`PolicyProposals`] validates it, shows it in the approvals inbox with its diff, and
//! applies it once approved; approving and denying go through the approvals API and
//! pages like any held request.
//!
//! Any authenticated user may propose; who may approve is `policy_review:` in
//! warden.yaml, never the proposer. This module only passes the request on: it must
//! never write a policy file or change the running policy itself.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use warden_inspect::Actor;

use crate::api::clean_reason;
use crate::app::App;
use crate::auth::{Authed, CSRF_HEADER};
use crate::error::WebError;

/// One proposed file: where it goes (a policy file or a file inside a policy folder the
/// gateway loads, as an absolute path on the gateway's machine) and its whole text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposedFile {
    pub path: String,
    pub content: String,
}

/// What the console needs from the gateway to take proposals.
pub trait PolicyProposals: Send + Sync {
    /// Validate the set (the running files with these replaced or added) and open an
    /// approval request for it; the proposal as JSON (`id`, `url`, `files`, `diff`,
    /// `approver_roles`, `required`).
    fn propose(
        &self,
        by: Actor,
        files: Vec<ProposedFile>,
        reason: Option<String>,
    ) -> BoxFuture<'static, Result<serde_json::Value, ProposalError>>;
}

/// Why a proposal was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ProposalError {
    /// The files are not policy files this gateway loads, do not change anything, or
    /// the resulting set is invalid (the diagnostics).
    #[error("{0}")]
    Invalid(String),
    /// The request could not be recorded.
    #[error("{0}")]
    Failed(String),
}

impl From<ProposalError> for WebError {
    fn from(e: ProposalError) -> WebError {
        match e {
            ProposalError::Invalid(m) => WebError::BadRequest(m),
            ProposalError::Failed(m) => WebError::Internal(m),
        }
    }
}

#[derive(Debug, Deserialize)]
struct ProposeBody {
    files: Vec<ProposedFile>,
    #[serde(default)]
    reason: Option<String>,
}

pub async fn propose(
    State(app): State<App>,
    who: Authed,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, WebError> {
    who.check_csrf(headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()))?;
    let body: ProposeBody = serde_json::from_slice(&body).map_err(|e| {
        WebError::BadRequest(format!(
            "body must be JSON {{\"files\": [{{\"path\": \"...\", \"content\": \"...\"}}], \"reason\": \"...\"}}: {e}"
        ))
    })?;
    if body.files.is_empty() {
        return Err(WebError::BadRequest("propose at least one file".into()));
    }
    let desk =
        app.state().proposals.clone().ok_or_else(|| {
            WebError::BadRequest("this server does not take policy proposals".into())
        })?;
    let proposal = desk
        .propose(who.user.actor(), body.files, clean_reason(body.reason))
        .await?;
    Ok((StatusCode::CREATED, Json(proposal)))
}
