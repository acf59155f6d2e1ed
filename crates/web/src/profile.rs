//! A user's behaviour profile: what the console's per-user page and
//! `GET /api/v1/users/{name}/profile` show — the live analytics baseline (usual hours,
//! targets, addresses, per-day volume, error share, trust) and the user's alerts that
//! are not resolved.
//!
//! Reading it needs the same roles as reading alerts (`admin`, `security`, `viewer`). A
//! name that is neither a configured Warden user nor known to the engine is `404`; a
//! configured user without activity has `baseline: null`. Must never decide an action
//! and never show a user's credentials (only names and roles leave the directory).

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use warden_analytics::UserBaseline;

use crate::alerts::desk;
use crate::app::App;
use crate::auth::{Authed, WebUserRef};
use crate::error::WebError;

/// One user's profile.
#[derive(Debug, Clone, Serialize)]
pub struct UserProfile {
    pub user: String,
    /// Named in `users:` of warden.yaml.
    pub configured: bool,
    /// Roles from warden.yaml (the baseline's roles are those seen on records).
    pub configured_roles: Vec<String>,
    /// `None` when the engine saw no activity of the user in its baseline window.
    pub baseline: Option<UserBaseline>,
    /// Open, then acknowledged alerts about the user, newest first.
    pub open_alerts: Vec<serde_json::Value>,
}

/// Who may read profiles: the readers of alerts.
pub(crate) fn require_reader(who: &WebUserRef) -> Result<(), WebError> {
    if who.can_read_alerts() {
        return Ok(());
    }
    Err(WebError::Forbidden(format!(
        "{} needs role admin, security or viewer to see user profiles",
        who.name
    )))
}

/// The profile of `name`, or `NotFound` for a name nobody knows.
pub(crate) fn load(app: &App, name: &str) -> Result<UserProfile, WebError> {
    let desk = desk(app)?;
    let configured = app.user(name);
    let baseline = desk.baseline(name);
    if configured.is_none() && baseline.is_none() {
        return Err(WebError::NotFound(format!(
            "user `{name}` (no Warden user of that name and no activity in the analytics baseline)"
        )));
    }
    let mut open_alerts = desk.list(Some("open"), Some(name), None);
    open_alerts.extend(desk.list(Some("acknowledged"), Some(name), None));
    Ok(UserProfile {
        user: name.to_string(),
        configured: configured.is_some(),
        configured_roles: configured.map(|u| u.roles.clone()).unwrap_or_default(),
        baseline,
        open_alerts,
    })
}

/// `GET /api/v1/users/{name}/profile`.
pub async fn api(
    State(app): State<App>,
    who: Authed,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, WebError> {
    require_reader(&who.user)?;
    Ok(Json(load(&app, &name)?))
}
