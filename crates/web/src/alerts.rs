//! The alerts API: `GET /api/v1/alerts?status=&user=&detector=`, and
//! `POST /api/v1/alerts/{id}/acknowledge` / `/resolve` with `{"reason": "..."}`.
//!
//! Alerts come from behaviour analytics through an [`AlertDesk`] the gateway hands in;
//! this module only shows them and passes decisions on. Who may do what: reading needs
//! one of the roles `admin`, `security` or `viewer`; acknowledging and resolving need
//! `admin` or `security`, and a reason. Must never decide an action.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Json;
use futures::future::BoxFuture;
use serde::Deserialize;
use warden_analytics::insights::{Filter, FilterError, Report};
use warden_analytics::UserBaseline;
use warden_inspect::Actor;

use crate::api::{clean_reason, decision_body};
use crate::app::App;
use crate::auth::Authed;
use crate::error::WebError;

/// What the console needs from the gateway's alert book.
pub trait AlertDesk: Send + Sync {
    /// Alerts as JSON objects (`id`, `detector`, `severity`, `status`, `user`,
    /// `client_addr`, `target`, `raised_at`, `explanation`, `evidence`, ...), open ones
    /// first, then newest first. Filters are exact; `None` means any.
    fn list(
        &self,
        status: Option<&str>,
        user: Option<&str>,
        detector: Option<&str>,
    ) -> Vec<serde_json::Value>;

    /// A user's behaviour baseline from the live analytics engine (`None`: no activity
    /// in the baseline window, or no engine).
    fn baseline(&self, _user: &str) -> Option<UserBaseline> {
        None
    }

    /// Every insights chart for `filter` from the live aggregator (`None`: no
    /// aggregator in this gateway; `Err`: a filter it cannot answer).
    fn insights(&self, _filter: &Filter) -> Option<Result<Report, FilterError>> {
        None
    }

    /// Acknowledge (`resolve == false`) or resolve an alert, recorded in the audit
    /// chain before it returns; the alert as it now stands.
    fn decide(
        &self,
        id: String,
        resolve: bool,
        by: Actor,
        reason: String,
    ) -> BoxFuture<'static, Result<serde_json::Value, AlertDeskError>>;
}

/// Why an alert decision was refused.
#[derive(Debug, thiserror::Error)]
pub enum AlertDeskError {
    #[error("alert {0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("audit log: {0}")]
    Audit(String),
}

impl From<AlertDeskError> for WebError {
    fn from(e: AlertDeskError) -> WebError {
        match e {
            AlertDeskError::NotFound(id) => WebError::NotFound(format!("alert {id}")),
            AlertDeskError::Conflict(m) => WebError::BadRequest(m),
            AlertDeskError::Audit(m) => WebError::Audit(m),
        }
    }
}

const STATUSES: [&str; 3] = ["open", "acknowledged", "resolved"];

#[derive(Debug, Deserialize)]
pub struct AlertParams {
    pub status: Option<String>,
    pub user: Option<String>,
    pub detector: Option<String>,
}

pub(crate) fn desk(app: &App) -> Result<&dyn AlertDesk, WebError> {
    app.state()
        .alerts
        .as_deref()
        .ok_or_else(|| WebError::NotFound("behaviour analytics (off in this gateway)".into()))
}

pub async fn list(
    State(app): State<App>,
    who: Authed,
    Query(params): Query<AlertParams>,
) -> Result<impl IntoResponse, WebError> {
    if !who.user.can_read_alerts() {
        return Err(WebError::Forbidden(
            "reading alerts needs the admin, security or viewer role".into(),
        ));
    }
    let status = params
        .status
        .as_deref()
        .filter(|s| !s.is_empty() && *s != "all");
    if let Some(s) = status {
        if !STATUSES.contains(&s) {
            return Err(WebError::BadRequest(format!(
                "unknown status `{s}`; expected open, acknowledged, resolved or all"
            )));
        }
    }
    let empty_none = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let alerts = desk(&app)?.list(
        status,
        empty_none(&params.user).as_deref(),
        empty_none(&params.detector).as_deref(),
    );
    Ok(Json(serde_json::json!({ "alerts": alerts })))
}

async fn decide(
    app: App,
    who: Authed,
    id: String,
    headers: HeaderMap,
    body: axum::body::Bytes,
    resolve: bool,
) -> Result<Json<serde_json::Value>, WebError> {
    let body = decision_body(&who, &headers, &body)?;
    if !who.user.can_decide_alerts() {
        return Err(WebError::Forbidden(
            "acknowledging and resolving alerts needs the admin or security role".into(),
        ));
    }
    let Some(reason) = clean_reason(body.reason) else {
        return Err(WebError::BadRequest(
            "a reason is required: {\"reason\": \"...\"}".into(),
        ));
    };
    let alert = desk(&app)?
        .decide(id, resolve, who.user.actor(), reason)
        .await?;
    Ok(Json(alert))
}

pub async fn acknowledge(
    State(app): State<App>,
    who: Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, WebError> {
    decide(app, who, id, headers, body, false).await
}

pub async fn resolve(
    State(app): State<App>,
    who: Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, WebError> {
    decide(app, who, id, headers, body, true).await
}
