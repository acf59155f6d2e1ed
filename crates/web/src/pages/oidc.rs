//! Single sign-on through the `oidc:` provider (docs/console.md, "Signing in").
//!
//! * `GET /login/oidc?next=…` sends the browser to the provider with a fresh state, nonce
//!   and PKCE challenge; the state (and where to go afterwards) is also put in a cookie
//!   of this browser, so a callback started elsewhere is refused.
//! * `GET /login/oidc/callback` finishes the sign-in: the state is used up, the code
//!   exchanged, the ID token verified (signature, issuer, audience, expiry, nonce) and
//!   the person's groups mapped to roles; then a console session like a local user's
//!   (same cookie, CSRF token, expiry, logout), holding the mapped roles.
//!
//! Every outcome is audited (`authenticated` / `auth_failed`, `method=oidc`). This module
//! must never start a session for a refused sign-in, never accept a callback whose state
//! this browser was not given, and never show, log or audit a code or a token.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use maud::html;
use serde::Deserialize;
use warden_audit::{Durability, Event, EventKind};
use warden_gate::auth::{failure_detail, success_detail, LoginMethod};
use warden_inspect::Actor;
use warden_oidc::{OidcError, OidcProvider, SingleSignOn};

use super::layout::{html_page, page, Nav};
use super::safe_next;
use crate::app::App;
use crate::auth::{header_cookie, same_secret, signed_in};

/// The cookie carrying `<state>.<base64url(next)>` from the start to the callback.
pub const OIDC_COOKIE: &str = "warden_oidc";

#[derive(Debug, Deserialize)]
pub struct StartQuery {
    pub next: Option<String>,
}

pub async fn start(State(app): State<App>, Query(q): Query<StartQuery>) -> Response {
    let (sso, provider) = match ready(&app) {
        Ok(ready) => ready,
        Err(resp) => return *resp,
    };
    match provider.begin() {
        Ok(login) => {
            let next = URL_SAFE_NO_PAD.encode(safe_next(q.next.as_deref()));
            let max_age = sso.settings().login_timeout.as_secs();
            let value = format!("{}.{next}", login.state);
            let mut resp = Redirect::to(&login.redirect_to).into_response();
            set_cookie(&app, &mut resp, &value, max_age);
            resp
        }
        Err(e) => refused(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

pub async fn callback(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let provider = match ready(&app) {
        Ok((_, provider)) => provider,
        Err(resp) => return *resp,
    };
    let (cookie_state, next) = match header_cookie(&headers, OIDC_COOKIE) {
        Some(v) => split_cookie(v),
        None => (None, None),
    };
    let Some(state) = q.state.filter(|s| !s.is_empty()) else {
        return failed(&app, None, "callback without a state", bad_request()).await;
    };
    // The state must be the one this browser was given: a callback link from someone
    // else's sign-in must not sign this browser in as them.
    if !cookie_state.is_some_and(|c| same_secret(&c, &state)) {
        return failed(
            &app,
            None,
            "state not issued to this browser",
            refused(
                StatusCode::BAD_REQUEST,
                "This sign-in was not started in this browser (or took too long). Start the sign-in again.",
            ),
        )
        .await;
    }
    let result = match (q.error, q.code) {
        (Some(error), _) => Err(provider.fail(&state, &error, q.error_description.as_deref())),
        (None, Some(code)) => provider.finish(&state, &code).await,
        (None, None) => Err(provider.fail(&state, "the callback carried no code", None)),
    };
    match result {
        Ok(signed) => {
            let who = &signed.identity;
            tracing::info!(user = %who.username, roles = ?who.roles, "console sign-in through single sign-on");
            let actor = Actor {
                name: who.username.clone(),
                roles: who.roles.clone(),
                client_addr: None,
                alerts: Vec::new(),
            };
            audit(
                &app,
                EventKind::Authenticated,
                actor,
                success_detail(LoginMethod::Oidc),
            )
            .await;
            let next = next.unwrap_or_else(|| safe_next(None));
            let mut resp = signed_in(
                &app,
                &who.username,
                Some(who.roles.clone()),
                continue_page(&who.username, &next),
            );
            set_cookie(&app, &mut resp, "", 0);
            resp
        }
        Err(e) => {
            let user = match &e {
                OidcError::NoRole { user, .. } => Some(user.clone()),
                _ => None,
            };
            let (status, reason) = judge(&e);
            let mut resp = failed(&app, user, &reason, refused(status, &e.to_string())).await;
            set_cookie(&app, &mut resp, "", 0);
            resp
        }
    }
}

/// The configured provider, once discovered; else the page saying why not (404: no
/// `oidc:`; 503: the provider could not be reached yet).
fn ready(app: &App) -> Result<(Arc<SingleSignOn>, Arc<OidcProvider>), Box<Response>> {
    let Some(sso) = app.state().oidc.clone() else {
        return Err(Box::new(refused(
            StatusCode::NOT_FOUND,
            "Single sign-on is not configured on this gateway.",
        )));
    };
    match sso.provider() {
        Some(provider) => Ok((sso, provider)),
        None => Err(Box::new(refused(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "Sign-in with {} is unavailable: the identity provider cannot be reached right now. \
                 Sign in with a Warden user name and password, or try again in a minute.",
                sso.name()
            ),
        ))),
    }
}

fn bad_request() -> Response {
    refused(
        StatusCode::BAD_REQUEST,
        "This is not a sign-in callback. Start the sign-in again.",
    )
}

/// The HTTP status and the audit reason (never a token or a code) of a refused sign-in.
fn judge(e: &OidcError) -> (StatusCode, String) {
    match e {
        OidcError::UnknownState => (
            StatusCode::BAD_REQUEST,
            "unknown, expired or already used state".into(),
        ),
        OidcError::TooManyLogins => (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many sign-ins in progress".into(),
        ),
        OidcError::IdToken { kind, .. } => (
            StatusCode::FORBIDDEN,
            format!("id token refused: {}", format!("{kind:?}").to_lowercase()),
        ),
        OidcError::NoRole { groups, .. } => (
            StatusCode::FORBIDDEN,
            format!("no mapped role (groups: {groups})"),
        ),
        OidcError::NoUsername(claim) => (StatusCode::FORBIDDEN, format!("no `{claim}` claim")),
        OidcError::Provider(why) => (StatusCode::FORBIDDEN, format!("provider refused: {why}")),
        OidcError::TokenExchange(_) | OidcError::NoIdToken | OidcError::Discovery { .. } => {
            (StatusCode::BAD_GATEWAY, e.to_string())
        }
    }
}

/// `<state>.<base64url(next)>` → (state, next path), the next path checked again.
fn split_cookie(value: &str) -> (Option<String>, Option<String>) {
    let (state, next) = value.split_once('.').unwrap_or((value, ""));
    let next = URL_SAFE_NO_PAD
        .decode(next)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(|n| safe_next(Some(&n)));
    (Some(state.to_string()).filter(|s| !s.is_empty()), next)
}

fn set_cookie(app: &App, resp: &mut Response, value: &str, max_age: u64) {
    // Lax, not Strict: the callback is a top-level navigation coming from the provider.
    let mut c = format!(
        "{OIDC_COOKIE}={value}; Path=/login/oidc; HttpOnly; SameSite=Lax; Max-Age={max_age}"
    );
    if app.state().secure_cookies {
        c.push_str("; Secure");
    }
    if let Ok(v) = c.parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Audits a refused sign-in, logs it, and returns `resp`.
async fn failed(app: &App, user: Option<String>, reason: &str, resp: Response) -> Response {
    tracing::warn!(
        user = user.as_deref().unwrap_or(""),
        reason,
        "console single sign-on refused"
    );
    let actor = Actor {
        name: user.unwrap_or_default(),
        roles: Vec::new(),
        client_addr: None,
        alerts: Vec::new(),
    };
    audit(
        app,
        EventKind::AuthFailed,
        actor,
        failure_detail(LoginMethod::Oidc, reason),
    )
    .await;
    resp
}

async fn audit(app: &App, kind: EventKind, actor: Actor, detail: String) {
    let mut ev = Event::new(kind);
    ev.actor = Some(actor);
    ev.detail = Some(detail);
    if let Err(e) = app.state().audit.append(ev, Durability::Queued).await {
        tracing::error!(error = %e, "could not audit a console sign-in");
    }
}

fn refused(status: StatusCode, message: &str) -> Response {
    let body = html! {
        div.card.login {
            h1 { "Sign-in refused" }
            div.flash.error role="alert" { (message) }
            p { a href="/login" { "Back to sign in" } }
        }
    };
    html_page(status, page("Sign-in refused", None, Nav::None, body))
}

/// A page that moves on to `next` by itself. Not a redirect: the session cookie is
/// `SameSite=Strict`, and a browser does not send it on a redirect chain that began at
/// the provider's site; a navigation started by this page is same-site.
fn continue_page(user: &str, next: &str) -> Response {
    let body = html! {
        meta http-equiv="refresh" content=(format!("0;url={next}"));
        div.card.login {
            h1 { "Signed in" }
            p { "Signed in as " strong { (user) } "." }
            p { a #continue href=(next) { "Continue" } }
        }
    };
    html_page(StatusCode::OK, page("Signed in", None, Nav::None, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_cookie_keeps_only_a_local_next_path() {
        let local = format!("st.{}", URL_SAFE_NO_PAD.encode("/audit?x=1"));
        assert_eq!(
            split_cookie(&local),
            (Some("st".into()), Some("/audit?x=1".into()))
        );
        let away = format!("st.{}", URL_SAFE_NO_PAD.encode("//evil.example.com/"));
        assert_eq!(split_cookie(&away).1.as_deref(), Some("/inbox"));
        assert_eq!(split_cookie("").0, None);
    }
}
