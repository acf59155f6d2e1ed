//! Who is asking: bearer tokens (SHA-256 compared by the [`UserDirectory`]; a gateway
//! token minted in the console as a bearer token or a Basic password) and HTTP
//! Basic (argon2id, off the async threads, with a short-lived cache of successful
//! checks so keep-alive clients do not pay argon2 per request). Also the header surgery
//! that keeps the user's identity away from the upstream: the user's `Authorization`
//! is removed, the target's credential injected, and client-sent `Impersonate-*`
//! headers are always dropped (Warden sets them itself when impersonation is on).
//!
//! Must never: forward the user's credential upstream, let a client choose whom
//! Kubernetes impersonates, or log a token or password.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use http::header::{self, HeaderName, HeaderValue};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use warden_inspect::Actor;

use warden_gate::auth::UserDirectory;
use warden_gate::auth::{is_gateway_token, LoginMethod, LoginThrottle, Throttled, TokenRefusal};

/// How long a successful Basic check is remembered.
const BASIC_CACHE_TTL: Duration = Duration::from_secs(60);
const BASIC_CACHE_MAX: usize = 4096;

/// A refused login: what the client is told and what the audit records.
#[derive(Debug, Clone)]
pub struct AuthRefusal {
    /// The user name offered, when there was one (Basic).
    pub user: Option<String>,
    /// Safe for the client.
    pub message: String,
    /// More detail for the audit record; never the secret.
    pub audit_reason: String,
    /// Wait this long before answering (throttle back-off).
    pub delay: Duration,
    /// The credential offered: token, basic, or none.
    pub method: LoginMethod,
}

/// The logins a connection has already audited, by user and method: a successful
/// login is recorded once per connection (the first request that authenticates as that
/// user with that method), not per request — every request re-checks its credential,
/// and an audit record per request would be a second record on the hot path.
#[derive(Debug, Default)]
pub struct LoginsSeen {
    seen: Mutex<Vec<(String, LoginMethod)>>,
}

/// Distinct (user, method) pairs remembered per connection; past it, the oldest goes
/// (a connection cycling through more identities than this records them again).
const LOGINS_SEEN_MAX: usize = 8;

impl LoginsSeen {
    /// `true` the first time this connection authenticates `user` with `method`.
    pub fn first(&self, user: &str, method: LoginMethod) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.iter().any(|(u, m)| *m == method && u == user) {
            return false;
        }
        if seen.len() >= LOGINS_SEEN_MAX {
            seen.remove(0);
        }
        seen.push((user.to_owned(), method));
        true
    }
}

/// Remembers successful Basic logins by a hash of (name, password, the user directory's
/// generation): a config reload that changes a password or removes a user forgets them.
#[derive(Debug, Default)]
pub struct BasicCache {
    entries: Mutex<HashMap<[u8; 32], (String, Instant)>>,
}

impl BasicCache {
    fn key(name: &str, password: &str, generation: u64) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(generation.to_be_bytes());
        h.update(name.as_bytes());
        h.update([0u8]);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    fn get(&self, key: &[u8; 32]) -> Option<String> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key)
            .filter(|(_, at)| at.elapsed() < BASIC_CACHE_TTL)
            .map(|(n, _)| n.clone())
    }

    fn put(&self, key: [u8; 32], name: String) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= BASIC_CACHE_MAX {
            map.retain(|_, (_, at)| at.elapsed() < BASIC_CACHE_TTL);
            if map.len() >= BASIC_CACHE_MAX {
                map.clear();
            }
        }
        map.insert(key, (name, Instant::now()));
    }
}

enum Offered {
    Bearer(String),
    Basic(String, String),
}

fn offered(headers: &HeaderMap) -> Result<Option<Offered>, &'static str> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("more than one Authorization header");
    }
    let text = value
        .to_str()
        .map_err(|_| "unreadable Authorization header")?;
    let (scheme, rest) = text
        .trim()
        .split_once(' ')
        .ok_or("malformed Authorization header")?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Some(Offered::Bearer(rest.to_string())));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| "malformed Basic credentials")?;
        let raw = String::from_utf8(raw).map_err(|_| "malformed Basic credentials")?;
        let (user, pass) = raw.split_once(':').ok_or("malformed Basic credentials")?;
        return Ok(Some(Offered::Basic(user.to_string(), pass.to_string())));
    }
    Err("unsupported Authorization scheme (use Bearer or Basic)")
}

/// Who a request authenticated as.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub actor: Actor,
    /// token or basic.
    pub method: LoginMethod,
    /// The id of the gateway token used (as a bearer token or a Basic password).
    pub token: Option<String>,
}

/// Authenticates the request's `Authorization` header against the directory; on
/// success, the actor and the method (token or basic).
pub async fn authenticate(
    users: &Arc<UserDirectory>,
    throttle: &LoginThrottle,
    cache: &BasicCache,
    headers: &HeaderMap,
    client: Option<IpAddr>,
) -> Result<Authenticated, AuthRefusal> {
    let offered = match offered(headers) {
        Ok(Some(o)) => o,
        Ok(None) => return Err(refuse(None, LoginMethod::None, "no credentials")),
        Err(why) => return Err(refuse(None, LoginMethod::None, why)),
    };
    match offered {
        Offered::Bearer(token) if is_gateway_token(&token) => {
            gateway_token(users, throttle, &token, None, client)
        }
        Offered::Bearer(token) => bearer(users, throttle, &token, client)
            .map(|actor| Authenticated {
                actor,
                method: LoginMethod::Token,
                token: None,
            })
            .map_err(|r| r.with_method(LoginMethod::Token)),
        Offered::Basic(name, password) if is_gateway_token(&password) => {
            gateway_token(users, throttle, &password, Some(name), client)
        }
        Offered::Basic(name, password) => basic(users, throttle, cache, name, password, client)
            .await
            .map(|actor| Authenticated {
                actor,
                method: LoginMethod::Basic,
                token: None,
            })
            .map_err(|r| r.with_method(LoginMethod::Basic)),
    }
}

/// A gateway token minted in the console, as a bearer token or as the password of Basic
/// credentials (`name`: then it must be the token's person). Throttled like a bearer
/// token (by address until it names its person, then by person too).
fn gateway_token(
    users: &UserDirectory,
    throttle: &LoginThrottle,
    token: &str,
    name: Option<String>,
    client: Option<IpAddr>,
) -> Result<Authenticated, AuthRefusal> {
    let who = token_throttle_key(client);
    if let Err(t) = throttle.check(&who, client) {
        return Err(throttled(name, &t).with_method(LoginMethod::Token));
    }
    match users.gateway_token(token, name.as_deref()) {
        Ok(login) => match throttle.check(&login.user.name, client) {
            Ok(()) => Ok(Authenticated {
                actor: login.user.actor(),
                method: LoginMethod::Token,
                token: Some(login.id),
            }),
            Err(t) => {
                Err(throttled(Some(login.user.name.clone()), &t).with_method(LoginMethod::Token))
            }
        },
        Err(why) => {
            let delay = throttle.failure(&who, client);
            let mut r = refuse(name, LoginMethod::Token, &why.to_string());
            if why != TokenRefusal::Unknown {
                // The client holds the token: it may know why it is refused.
                r.message = why.to_string();
            }
            r.delay = delay;
            Err(r)
        }
    }
}

/// Tokens are not attributable to a user until they match: the throttle's key for token
/// attempts (static bearer tokens and gateway tokens alike) is the client's address.
fn token_throttle_key(client: Option<IpAddr>) -> String {
    format!(
        "bearer-token@{}",
        client.map(|c| c.to_string()).unwrap_or_default()
    )
}

fn refuse(user: Option<String>, method: LoginMethod, audit_reason: &str) -> AuthRefusal {
    AuthRefusal {
        user,
        message: "authentication required: send a Warden bearer token or Basic credentials".into(),
        audit_reason: audit_reason.to_string(),
        delay: Duration::ZERO,
        method,
    }
}

impl AuthRefusal {
    fn with_method(mut self, method: LoginMethod) -> AuthRefusal {
        self.method = method;
        self
    }
}

fn bearer(
    users: &UserDirectory,
    throttle: &LoginThrottle,
    token: &str,
    client: Option<IpAddr>,
) -> Result<Actor, AuthRefusal> {
    let who = token_throttle_key(client);
    if let Err(t) = throttle.check(&who, client) {
        return Err(throttled(None, &t));
    }
    match users.by_token(token) {
        // The token names its user: that user may be locked by an alert.
        Some(u) => match throttle.check(&u.name, client) {
            Ok(()) => Ok(u.actor()),
            Err(t) => Err(throttled(Some(u.name.clone()), &t)),
        },
        None => {
            let delay = throttle.failure(&who, client);
            let mut r = refuse(None, LoginMethod::Token, "unknown bearer token");
            r.delay = delay;
            Err(r)
        }
    }
}

async fn basic(
    users: &Arc<UserDirectory>,
    throttle: &LoginThrottle,
    cache: &BasicCache,
    name: String,
    password: String,
    client: Option<IpAddr>,
) -> Result<Actor, AuthRefusal> {
    if let Err(t) = throttle.check(&name, client) {
        return Err(throttled(Some(name), &t));
    }
    let key = BasicCache::key(&name, &password, users.generation());
    if let Some(cached) = cache.get(&key) {
        if let Some(u) = users.user(&cached) {
            return Ok(u.actor());
        }
    }
    match users.authenticate(&name, &password).await {
        Ok(u) => {
            throttle.success(&name);
            cache.put(key, u.name.clone());
            Ok(u.actor())
        }
        Err(e) => {
            let known = users.user(&name).is_some();
            let delay = throttle.failure(&name, client);
            let mut r = refuse(Some(name), LoginMethod::Basic, &e.audit_reason(known));
            r.message = e.to_string();
            r.delay = delay;
            Err(r)
        }
    }
}

fn throttled(user: Option<String>, t: &Throttled) -> AuthRefusal {
    AuthRefusal {
        user,
        message: t.message(),
        audit_reason: t.audit_reason(),
        delay: Duration::ZERO,
        method: LoginMethod::None,
    }
}

/// Headers that describe one hop and never travel further (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
];

/// The header names a message's `Connection` headers list (hop-by-hop by declaration).
pub(crate) fn connection_named(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect()
}

/// Prepares request headers for the upstream: drops hop-by-hop headers (keeping
/// `Upgrade` + `Connection: upgrade` when `upgrade`), the user's credential, any
/// client-sent impersonation, `Host` (set from the upstream URI), and Warden's own
/// `Prefer: respond-async`.
pub fn sanitize_request_headers(headers: &mut HeaderMap, upgrade: bool) {
    for name in connection_named(headers) {
        if !(upgrade && name == header::UPGRADE) {
            headers.remove(name);
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    if upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(header::UPGRADE);
    }
    headers.remove(header::AUTHORIZATION);
    headers.remove(header::HOST);
    let impersonation: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("impersonate-"))
        .cloned()
        .collect();
    for k in impersonation {
        headers.remove(k);
    }
    strip_respond_async(headers);
}

/// Whether the client asked for `Prefer: respond-async`.
pub fn wants_async(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("respond-async"))
}

fn strip_respond_async(headers: &mut HeaderMap) {
    if wants_async(headers) {
        headers.remove("prefer");
    }
}

/// Sets `Impersonate-User` / `Impersonate-Group` for the Warden user.
pub fn impersonate(headers: &mut HeaderMap, actor: &Actor) {
    if let Ok(v) = HeaderValue::from_str(&actor.name) {
        headers.insert("impersonate-user", v);
    }
    for role in &actor.roles {
        if let Ok(v) = HeaderValue::from_str(role) {
            headers.append("impersonate-group", v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_credentials_and_impersonation_never_reach_upstream() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer user"),
        );
        h.insert("impersonate-user", HeaderValue::from_static("system:admin"));
        h.insert(
            "impersonate-group",
            HeaderValue::from_static("system:masters"),
        );
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("x-secret, close"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("prefer", HeaderValue::from_static("respond-async"));
        h.insert("accept", HeaderValue::from_static("application/json"));
        sanitize_request_headers(&mut h, false);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key("accept"));
    }

    #[test]
    fn upgrade_keeps_upgrade_headers() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        sanitize_request_headers(&mut h, true);
        assert_eq!(
            h.get(header::UPGRADE).map(|v| v.as_bytes()),
            Some(&b"websocket"[..])
        );
        assert_eq!(
            h.get(header::CONNECTION).map(|v| v.as_bytes()),
            Some(&b"upgrade"[..])
        );
    }

    #[test]
    fn basic_and_bearer_are_read() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic YWxpY2U6cHc="),
        );
        assert!(matches!(offered(&h), Ok(Some(Offered::Basic(u, p))) if u == "alice" && p == "pw"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Digest x"));
        assert!(offered(&h).is_err());
    }
}
