//! Gateway tokens of the signed-in person: minting, listing and revoking them, shared by
//! the console page (`pages::tokens`) and the API (`/api/v1/tokens`).
//!
//! A token carries the name and roles of the session minting it (a local user's roles
//! are bounded again by the directory at each use), never more. Minting and revoking are
//! audited durably before they take effect for the caller: a mint whose record cannot be
//! written is revoked at once and no token is shown.
//!
//! This module must never log or audit a token's secret, and never list, mint or revoke
//! tokens of anyone but the caller.

use std::time::{Duration, SystemTime};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use warden_audit::{Durability, Event, EventKind};
use warden_gate::auth::{MintError, Minted, TokenInfo};

use crate::app::App;
use crate::auth::{Authed, WebUserRef};
use crate::error::WebError;

/// A token's lifetime as written (`30m`, `1h`, `90s`); empty: the longest allowed.
pub(crate) fn parse_ttl(app: &App, text: Option<&str>) -> Result<Duration, WebError> {
    let max = app.state().users.tokens().settings().max_ttl;
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(max),
        Some(t) => warden_diagnostic::parse_duration(t).ok_or_else(|| {
            WebError::BadRequest(format!(
                "`{t}` is not a lifetime like 15m or 1h (at most {}s)",
                max.as_secs()
            ))
        }),
    }
}

/// Mints a token for the caller and audits it (durably) before handing it out.
pub(crate) async fn mint(app: &App, who: &WebUserRef, ttl: Duration) -> Result<Minted, WebError> {
    let users = &app.state().users;
    let minted = users
        .mint_token(&who.name, who.roles.clone(), !who.sso, ttl)
        .map_err(|e| match e {
            MintError::Disabled => WebError::Forbidden(e.to_string()),
            MintError::Ttl { .. } | MintError::TooMany { .. } => {
                WebError::BadRequest(e.to_string())
            }
            MintError::Unsaved(_) => WebError::Internal(e.to_string()),
        })?;
    let detail = format!(
        "token={}; expires={}",
        minted.info.id,
        rfc3339(minted.info.expires)
    );
    if let Err(e) = audit(app, who, EventKind::GatewayTokenMinted, detail).await {
        users.tokens().revoke(&who.name, &minted.info.id);
        return Err(e);
    }
    tracing::info!(user = %who.name, token = %minted.info.id, "gateway token minted");
    Ok(minted)
}

/// Revokes the caller's token `id` and audits it.
pub(crate) async fn revoke(app: &App, who: &WebUserRef, id: &str) -> Result<TokenInfo, WebError> {
    let info = app
        .state()
        .users
        .tokens()
        .revoke(&who.name, id)
        .ok_or_else(|| WebError::NotFound(format!("live gateway token {id} of {}", who.name)))?;
    audit(
        app,
        who,
        EventKind::GatewayTokenRevoked,
        format!("token={}", info.id),
    )
    .await?;
    tracing::info!(user = %who.name, token = %info.id, "gateway token revoked");
    Ok(info)
}

async fn audit(
    app: &App,
    who: &WebUserRef,
    kind: EventKind,
    detail: String,
) -> Result<(), WebError> {
    let mut ev = Event::new(kind);
    ev.actor = Some(who.actor());
    ev.detail = Some(detail);
    app.state()
        .audit
        .append(ev, Durability::Durable)
        .await
        .map(|_| ())
        .map_err(|e| WebError::Audit(e.to_string()))
}

pub(crate) fn rfc3339(t: SystemTime) -> String {
    crate::pages::show_time(OffsetDateTime::from(t))
}

fn view(info: &TokenInfo) -> serde_json::Value {
    json!({
        "id": info.id,
        "user": info.user,
        "roles": info.roles,
        "issued": rfc3339(info.issued),
        "expires": rfc3339(info.expires),
    })
}

/// `GET /api/v1/tokens`: the caller's live tokens and the limits.
pub async fn api_list(State(app): State<App>, who: Authed) -> impl IntoResponse {
    let tokens = app.state().users.tokens();
    let settings = tokens.settings();
    let list: Vec<serde_json::Value> = tokens.list(&who.user.name).iter().map(view).collect();
    Json(json!({
        "tokens": list,
        "enabled": settings.enabled,
        "max_ttl_seconds": settings.max_ttl.as_secs(),
        "max_per_user": settings.max_per_user,
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintBody {
    pub ttl: Option<String>,
}

/// `POST /api/v1/tokens` `{"ttl": "30m"}`: mints a token; the answer is the only time
/// its secret is shown.
pub async fn api_mint(
    State(app): State<App>,
    who: Authed,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, WebError> {
    let body: MintBody = if body.is_empty() {
        MintBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| WebError::BadRequest(format!("invalid JSON body: {e}")))?
    };
    let ttl = parse_ttl(&app, body.ttl.as_deref())?;
    let minted = mint(&app, &who.user, ttl).await?;
    let mut v = view(&minted.info);
    v["token"] = json!(minted.token);
    Ok((StatusCode::CREATED, Json(v)))
}

/// `POST /api/v1/tokens/{id}/revoke`.
pub async fn api_revoke(
    State(app): State<App>,
    who: Authed,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, WebError> {
    let info = revoke(&app, &who.user, &id).await?;
    Ok(Json(view(&info)))
}
