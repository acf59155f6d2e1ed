//! Who is asking: Warden users (checked by the Gate's user directory, the one argon2
//! path), HTTP Basic for the API, session cookies for the console, CSRF tokens for every
//! cookie-authenticated POST; failed logins count in the gateway's one login throttle.
//!
//! This module must never accept a cookie-session POST without its CSRF token, never
//! log or echo a password, and never compare secrets with a short-circuiting `==`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use warden_gate::auth::User;
use warden_inspect::Actor;

use crate::app::App;
use crate::error::WebError;

pub const SESSION_COOKIE: &str = "warden_session";
pub const LOGIN_CSRF_COOKIE: &str = "warden_login_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
const BASIC_CACHE_TTL: Duration = Duration::from_secs(300);
/// The longest a failed login waits before it is answered (the throttle's delay).
const MAX_FAILURE_DELAY: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub user: String,
    pub csrf: String,
    /// `None`: a local user of `users:`, whose roles are read from the directory at each
    /// request (a reload takes effect at once; a removed user is signed out). `Some`:
    /// someone signed in through single sign-on, with the roles their groups mapped to
    /// at sign-in.
    pub roles: Option<Vec<String>>,
    expires: Instant,
}

/// Sessions and cached Basic verifications, in memory: a restart logs everyone out,
/// which is the safe direction.
#[derive(Default)]
pub(crate) struct AuthState {
    sessions: Mutex<HashMap<String, Session>>,
    basic_ok: Mutex<HashMap<[u8; 32], Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Constant-time comparison of two tokens.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl AuthState {
    /// Starts a session; returns the cookie token and the session (with its CSRF token).
    /// `roles`: see [`Session::roles`].
    pub(crate) fn create_session(
        &self,
        user: &str,
        roles: Option<Vec<String>>,
    ) -> (String, Session) {
        let session = Session {
            user: user.to_string(),
            csrf: random_token(),
            roles,
            expires: Instant::now() + SESSION_TTL,
        };
        let token = random_token();
        let mut sessions = lock(&self.sessions);
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now);
        sessions.insert(token.clone(), session.clone());
        (token, session)
    }

    pub(crate) fn session(&self, token: &str) -> Option<Session> {
        let sessions = lock(&self.sessions);
        sessions
            .get(token)
            .filter(|s| s.expires > Instant::now())
            .cloned()
    }

    pub(crate) fn end_session(&self, token: &str) {
        lock(&self.sessions).remove(token);
    }
}

/// Verifies `password` for `name`; argon2 runs on the blocking pool. Successful Basic
/// verifications are cached briefly (keyed by a hash of user + password) so that API
/// scripts do not pay argon2 on every call.
pub(crate) async fn verify_password(
    app: &App,
    name: &str,
    password: &str,
) -> Result<WebUserRef, WebError> {
    let throttle = &app.state().throttle;
    if throttle.check(name, None).is_err() {
        return Err(WebError::Throttled);
    }
    let cache_key = app.user(name).map(|user| basic_cache_key(&user, password));
    if let Some(key) = &cache_key {
        if let Some(at) = lock(&app.auth().basic_ok).get(key) {
            if at.elapsed() < BASIC_CACHE_TTL {
                if let Some(user) = app.user(name) {
                    return Ok(WebUserRef::from(user.as_ref()));
                }
            }
        }
    }
    match app.state().users.authenticate(name, password).await {
        Ok(user) => {
            throttle.success(name);
            if let Some(key) = cache_key {
                lock(&app.auth().basic_ok).insert(key, Instant::now());
            }
            Ok(WebUserRef::from(user.as_ref()))
        }
        Err(_) => {
            let delay = throttle.failure(name, None);
            tokio::time::sleep(delay.min(MAX_FAILURE_DELAY)).await;
            Err(WebError::Unauthorized)
        }
    }
}

/// The Basic cache key: a hash of user, password and stored hash (a changed hash or
/// password never hits an old entry).
fn basic_cache_key(user: &User, password: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(user.name.as_bytes());
    h.update([0]);
    h.update(password.as_bytes());
    h.update([0]);
    h.update(user.password_hash.as_deref().unwrap_or("").as_bytes());
    h.finalize().into()
}

/// The authenticated user of one request.
#[derive(Debug, Clone)]
pub struct WebUserRef {
    pub name: String,
    pub roles: Vec<String>,
    /// Signed in through single sign-on (roles mapped at sign-in), not a local user.
    pub sso: bool,
}

impl From<&User> for WebUserRef {
    fn from(u: &User) -> Self {
        WebUserRef {
            name: u.name.clone(),
            roles: u.roles.clone(),
            sso: false,
        }
    }
}

impl WebUserRef {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// viewer, auditor-ish access: the audit explorer and policies.
    pub fn can_read_audit(&self) -> bool {
        self.has_role("viewer") || self.has_role("admin")
    }

    /// Behaviour-analytics alerts: reading them.
    pub fn can_read_alerts(&self) -> bool {
        self.can_read_audit() || self.has_role("security")
    }

    /// Behaviour-analytics alerts: acknowledging and resolving them.
    pub fn can_decide_alerts(&self) -> bool {
        self.has_role("admin") || self.has_role("security")
    }

    pub fn actor(&self) -> Actor {
        Actor {
            name: self.name.clone(),
            roles: self.roles.clone(),
            client_addr: None,
            alerts: Vec::new(),
        }
    }
}

/// How the request authenticated.
#[derive(Debug, Clone)]
pub enum Via {
    Basic,
    /// Cookie session, with the session's CSRF token.
    Session {
        csrf: String,
    },
}

/// Extractor: an authenticated user (401 otherwise). For cookie sessions, every
/// non-GET request must carry the CSRF token in the `x-csrf-token` header; HTML forms
/// are checked by their handlers (the token is in the body).
#[derive(Debug, Clone)]
pub struct Authed {
    pub user: WebUserRef,
    pub via: Via,
}

impl Authed {
    /// Checks a form's CSRF field (no-op for Basic auth).
    pub fn check_csrf(&self, token: Option<&str>) -> Result<(), WebError> {
        match &self.via {
            Via::Basic => Ok(()),
            Via::Session { csrf } => match token {
                Some(t) if same_secret(t, csrf) => Ok(()),
                _ => Err(WebError::Csrf),
            },
        }
    }

    pub fn csrf(&self) -> &str {
        match &self.via {
            Via::Basic => "",
            Via::Session { csrf } => csrf,
        }
    }
}

pub(crate) fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    header_cookie(&parts.headers, name)
}

/// The value of the cookie `name` among the request's `Cookie` headers.
pub(crate) fn header_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Resolves the caller from Basic credentials or the session cookie.
pub(crate) async fn authenticate(parts: &Parts, app: &App) -> Result<Authed, WebError> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| WebError::Unauthorized)?;
        let encoded = value.strip_prefix("Basic ").ok_or(WebError::Unauthorized)?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| WebError::Unauthorized)?;
        let text = String::from_utf8(decoded).map_err(|_| WebError::Unauthorized)?;
        let (name, password) = text.split_once(':').ok_or(WebError::Unauthorized)?;
        let user = verify_password(app, name, password).await?;
        return Ok(Authed {
            user,
            via: Via::Basic,
        });
    }
    let token = cookie(parts, SESSION_COOKIE).ok_or(WebError::Unauthorized)?;
    let session = app.auth().session(token).ok_or(WebError::Unauthorized)?;
    let user = match session.roles {
        Some(roles) => WebUserRef {
            name: session.user,
            roles,
            sso: true,
        },
        None => WebUserRef::from(
            app.user(&session.user)
                .ok_or(WebError::Unauthorized)?
                .as_ref(),
        ),
    };
    let authed = Authed {
        user,
        via: Via::Session { csrf: session.csrf },
    };
    if parts.method != Method::GET && parts.method != Method::HEAD {
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            let header_token = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            authed.check_csrf(header_token)?;
        }
    }
    Ok(authed)
}

impl FromRequestParts<App> for Authed {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        authenticate(parts, app).await
    }
}

/// Starts a session for `user` (see [`Session::roles`]) and adds its cookie to `resp`
/// (the page or redirect the sign-in answers with).
pub(crate) fn signed_in(
    app: &App,
    user: &str,
    roles: Option<Vec<String>>,
    mut resp: axum::response::Response,
) -> axum::response::Response {
    let (token, _session) = app.auth().create_session(user, roles);
    let cookie = session_cookie(&token, app.state().secure_cookies, Some(session_ttl_secs()));
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// `Set-Cookie` value for a session token.
pub(crate) fn session_cookie(token: &str, secure: bool, max_age: Option<u64>) -> String {
    let mut c = format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

pub(crate) fn session_ttl_secs() -> u64 {
    SESSION_TTL.as_secs()
}
