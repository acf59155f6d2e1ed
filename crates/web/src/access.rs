//! The role-based access report on a running gateway: `GET /api/v1/reports/access`
//! (`?since=30d&until=&format=json|csv|text`) and the inputs `warden report access`
//! shares with it (accounts and rules as they are now, the window parsed the same way).
//!
//! Readers: the readers of alerts (`admin`, `security`, `viewer`). The report walks the
//! window's records on the blocking pool (cost grows with the records in the window, not
//! with the whole chain). Must never decide an action and never expose a credential
//! (only user names, roles and the service flag leave the directory).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use warden_analytics::access::{self, AccessReport, AccessTally, Account, Inputs, RuleFacts};
use warden_gate::auth::User;
use warden_policy::RuleInfo;

use crate::app::App;
use crate::auth::{Authed, WebUserRef};
use crate::error::WebError;

/// The window when none is asked for.
pub const DEFAULT_SINCE: &str = "30d";

/// The report's inputs from the configured users and the loaded rules.
pub fn inputs<'a>(users: &[Arc<User>], rules: impl Iterator<Item = &'a RuleInfo>) -> Inputs {
    Inputs {
        accounts: users
            .iter()
            .map(|u| Account {
                name: u.name.clone(),
                roles: u.roles.clone(),
                service: u.service,
            })
            .collect(),
        rules: rules
            .map(|r| RuleFacts {
                name: r.name.clone(),
                roles: r.roles.clone(),
                approver_roles: r
                    .approval
                    .as_ref()
                    .map(|a| a.approver_roles.clone())
                    .unwrap_or_default(),
                sensitive: r.sensitive,
            })
            .collect(),
    }
}

/// `30d`, `12h`, `90m`, `45s`, `250ms` back from `now`, or an RFC 3339 time.
pub fn parse_time(s: &str, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    let s = s.trim();
    if let Some(d) = warden_diagnostic::parse_duration(s) {
        let d = time::Duration::try_from(d).map_err(|e| format!("`{s}`: {e}"))?;
        return now
            .checked_sub(d)
            .ok_or_else(|| format!("`{s}` reaches before the year -9999"));
    }
    OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
        format!("`{s}` is neither a duration back from now (30d, 12h, 15m) nor an RFC 3339 time")
    })
}

fn rfc3339(t: Option<OffsetDateTime>) -> Option<String> {
    t.and_then(|t| t.format(&Rfc3339).ok())
}

/// Build the report from a record source (`walk` calls its argument with every record
/// of the window, oldest first).
pub fn report<E>(
    inputs: &Inputs,
    since: Option<OffsetDateTime>,
    until: Option<OffsetDateTime>,
    walk: impl FnOnce(&mut dyn FnMut(&warden_audit::Record)) -> Result<u64, E>,
) -> Result<AccessReport, E> {
    let mut tally = AccessTally::new(inputs);
    walk(&mut |r| tally.observe(r))?;
    Ok(AccessReport::build(tally, rfc3339(since), rfc3339(until)))
}

/// Who may read the report: the readers of alerts.
pub(crate) fn require_reader(who: &WebUserRef) -> Result<(), WebError> {
    if who.can_read_alerts() {
        return Ok(());
    }
    Err(WebError::Forbidden(format!(
        "{} needs role admin, security or viewer to see the access report",
        who.name
    )))
}

#[derive(Debug, Default, Deserialize)]
pub struct AccessParams {
    pub since: Option<String>,
    pub until: Option<String>,
    pub format: Option<String>,
}

/// Parse the window of a request (`since` defaults to [`DEFAULT_SINCE`]).
pub(crate) fn window(
    p: &AccessParams,
) -> Result<(OffsetDateTime, Option<OffsetDateTime>), WebError> {
    let now = OffsetDateTime::now_utc();
    let since = p
        .since
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_SINCE);
    let since = parse_time(since, now).map_err(|e| WebError::BadRequest(format!("since: {e}")))?;
    let until = match p.until.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(u) => {
            Some(parse_time(u, now).map_err(|e| WebError::BadRequest(format!("until: {e}")))?)
        }
    };
    if until.is_some_and(|u| u <= since) {
        return Err(WebError::BadRequest("until must be after since".into()));
    }
    Ok((since, until))
}

/// The report over the live log, computed on the blocking pool.
pub(crate) async fn load(
    app: &App,
    since: OffsetDateTime,
    until: Option<OffsetDateTime>,
) -> Result<AccessReport, WebError> {
    let state = app.state();
    let inputs = inputs(&state.users.users(), state.policies.current().rules());
    let audit = state.audit.clone();
    tokio::task::spawn_blocking(move || {
        report(&inputs, Some(since), until, |f| {
            audit.walk_window(Some(since), until, |r| f(r))
        })
    })
    .await
    .map_err(|e| WebError::Internal(format!("access report task: {e}")))?
    .map_err(|e| WebError::Internal(format!("reading the audit log: {e}")))
}

/// `GET /api/v1/reports/access`.
pub async fn api(
    State(app): State<App>,
    who: Authed,
    Query(p): Query<AccessParams>,
) -> Result<Response, WebError> {
    require_reader(&who.user)?;
    let (since, until) = window(&p)?;
    let r = load(&app, since, until).await?;
    Ok(match p.format.as_deref().unwrap_or("json") {
        "json" => Json(r).into_response(),
        "csv" => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"access-report.csv\"",
                ),
            ],
            access::to_csv(&r),
        )
            .into_response(),
        "text" => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            access::to_text(&r),
        )
            .into_response(),
        other => {
            return Err(WebError::BadRequest(format!(
                "format `{other}`: use json, csv or text"
            )))
        }
    })
}
