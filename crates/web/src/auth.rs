//! Who is asking: Warden users (argon2 PHC hashes), HTTP Basic for the API, session
//! cookies for the console, CSRF tokens for every cookie-authenticated POST, and login
//! throttling.
//!
//! This module must never accept a cookie-session POST without its CSRF token, never
//! log or echo a password, and never compare secrets with a short-circuiting `==`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use warden_inspect::Actor;

use crate::app::App;
use crate::error::WebError;

pub const SESSION_COOKIE: &str = "warden_session";
pub const LOGIN_CSRF_COOKIE: &str = "warden_login_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
const BASIC_CACHE_TTL: Duration = Duration::from_secs(300);
const THROTTLE_WINDOW: Duration = Duration::from_secs(300);
const THROTTLE_MAX_FAILURES: u32 = 5;

static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// A Warden user who may log in to the console and the API.
#[derive(Debug, Clone)]
pub struct WebUser {
    pub name: String,
    pub roles: Vec<String>,
    /// argon2 PHC string (`warden hash-password`).
    pub password_hash: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub user: String,
    pub csrf: String,
    expires: Instant,
}

/// Sessions, cached Basic verifications and failure counters, all in memory: a
/// restart logs everyone out, which is the safe direction.
#[derive(Default)]
pub(crate) struct AuthState {
    sessions: Mutex<HashMap<String, Session>>,
    basic_ok: Mutex<HashMap<[u8; 32], Instant>>,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
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
    pub(crate) fn create_session(&self, user: &str) -> (String, Session) {
        let session = Session {
            user: user.to_string(),
            csrf: random_token(),
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

    /// Refuses when `key` (user name + client) failed too often recently.
    pub(crate) fn check_throttle(&self, key: &str) -> Result<(), WebError> {
        let failures = lock(&self.failures);
        match failures.get(key) {
            Some((n, first))
                if *n >= THROTTLE_MAX_FAILURES && first.elapsed() < THROTTLE_WINDOW =>
            {
                Err(WebError::Throttled)
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn record_failure(&self, key: &str) {
        let mut failures = lock(&self.failures);
        let entry = failures
            .entry(key.to_string())
            .or_insert((0, Instant::now()));
        if entry.1.elapsed() >= THROTTLE_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub(crate) fn clear_failures(&self, key: &str) {
        lock(&self.failures).remove(key);
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
    let throttle_key = name.to_ascii_lowercase();
    app.auth().check_throttle(&throttle_key)?;
    let Some(user) = app.user(name) else {
        app.auth().record_failure(&throttle_key);
        // Spend the same argon2 work as for a real user, so timing does not reveal
        // which user names exist.
        let pw = password.to_string();
        let _ = tokio::task::spawn_blocking(move || {
            let dummy = DUMMY_HASH.get_or_init(|| {
                use argon2::password_hash::{PasswordHasher, SaltString};
                let salt = SaltString::generate(&mut rand::thread_rng());
                argon2::Argon2::default()
                    .hash_password(b"warden-dummy-password", &salt)
                    .map(|h| h.to_string())
                    .unwrap_or_default()
            });
            if let Ok(parsed) = PasswordHash::new(dummy) {
                let _ = argon2::Argon2::default().verify_password(pw.as_bytes(), &parsed);
            }
        })
        .await;
        return Err(WebError::Unauthorized);
    };
    let mut h = Sha256::new();
    h.update(user.name.as_bytes());
    h.update([0]);
    h.update(password.as_bytes());
    h.update([0]);
    h.update(user.password_hash.as_bytes());
    let cache_key: [u8; 32] = h.finalize().into();
    if let Some(at) = lock(&app.auth().basic_ok).get(&cache_key) {
        if at.elapsed() < BASIC_CACHE_TTL {
            return Ok(WebUserRef::from(user));
        }
    }
    let hash = user.password_hash.clone();
    let pw = password.to_string();
    let ok = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                argon2::Argon2::default()
                    .verify_password(pw.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(|e| WebError::Internal(e.to_string()))?;
    if !ok {
        app.auth().record_failure(&throttle_key);
        return Err(WebError::Unauthorized);
    }
    app.auth().clear_failures(&throttle_key);
    lock(&app.auth().basic_ok).insert(cache_key, Instant::now());
    Ok(WebUserRef::from(user))
}

/// The authenticated user of one request.
#[derive(Debug, Clone)]
pub struct WebUserRef {
    pub name: String,
    pub roles: Vec<String>,
}

impl From<&WebUser> for WebUserRef {
    fn from(u: &WebUser) -> Self {
        WebUserRef {
            name: u.name.clone(),
            roles: u.roles.clone(),
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

    pub fn actor(&self) -> Actor {
        Actor {
            name: self.name.clone(),
            roles: self.roles.clone(),
            client_addr: None,
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
    parts
        .headers
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
    let user = app.user(&session.user).ok_or(WebError::Unauthorized)?;
    let authed = Authed {
        user: WebUserRef::from(user),
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
