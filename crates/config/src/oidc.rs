//! `oidc:` — console sign-in through the organisation's OpenID Connect provider
//! (docs/operations.md, "Single sign-on"). Plain data and its validation; `warden-oidc`
//! does the discovery and the sign-in, the console the sessions.
//!
//! The client secret comes from an environment variable or a file, never from the file
//! itself; it is a [`Secret`]. This module must never put the secret in a diagnostic and
//! never connect anywhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::schema::{check_keys, child, item, Diags};
use super::{ConfigErrors, Secret};

/// The validated `oidc:` section.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// Shown on the login page's button: "Sign in with <name>" (default: the issuer's
    /// host).
    pub name: String,
    /// The provider's issuer URL, without a trailing slash (discovery is
    /// `<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    pub client_id: String,
    /// From `client_secret_env` or `client_secret_file`; `None` for a public client
    /// (PKCE alone).
    pub client_secret: Option<Secret>,
    /// Where the provider sends the browser back: the console's
    /// `<public_url>/login/oidc/callback`.
    pub redirect_url: String,
    /// Requested besides `openid` (default `email`, `profile`, `groups`).
    pub scopes: Vec<String>,
    /// The claim whose value is the Warden user name (default `preferred_username`).
    pub username_claim: String,
    /// The claim holding the person's groups (default `groups`).
    pub groups_claim: String,
    /// Group → Warden roles. A person whose groups map to no role is refused.
    pub roles: BTreeMap<String, Vec<String>>,
    /// How long a started sign-in may wait for its callback (default 10m).
    pub login_timeout: Duration,
    /// Fetch the provider's keys again at most this often when a token names an unknown
    /// key (default 30s), so forged key ids cannot make Warden hammer the provider.
    pub jwks_refresh_min: Duration,
    /// While the provider cannot be reached, try its discovery document again this often
    /// (default 30s); local users sign in meanwhile.
    pub discovery_retry: Duration,
}

/// `oidc:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOidc {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret_env: Option<String>,
    #[serde(default)]
    pub client_secret_file: Option<String>,
    #[serde(default)]
    pub redirect_url: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub username_claim: Option<String>,
    #[serde(default)]
    pub groups_claim: Option<String>,
    #[serde(default)]
    pub roles: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub login_timeout: Option<String>,
    #[serde(default)]
    pub jwks_refresh_min: Option<String>,
    #[serde(default)]
    pub discovery_retry: Option<String>,
}

impl RawOidc {
    pub const KEYS: &'static [&'static str] = &[
        "name",
        "issuer",
        "client_id",
        "client_secret_env",
        "client_secret_file",
        "redirect_url",
        "scopes",
        "username_claim",
        "groups_claim",
        "roles",
        "login_timeout",
        "jwks_refresh_min",
        "discovery_retry",
    ];
}

impl OidcConfig {
    /// The `oidc:` section on its own (its keys at the top level), validated like in
    /// `warden.yaml`; relative `client_secret_file` paths resolve against the working
    /// folder. For tools and tests; `warden serve` reads the section from `warden.yaml`.
    pub fn from_yaml(text: &str) -> Result<OidcConfig, ConfigErrors> {
        let mut d = Diags::new("oidc", text);
        let value = match serde_yaml::from_str::<serde_yaml::Value>(text) {
            Ok(v) => v,
            Err(e) => {
                d.push_at(1, 1, format!("invalid YAML: {e}"));
                return Err(d.into_errors());
            }
        };
        let raw = read(value, "", &mut d);
        let built = raw.map(|r| build_oidc(r, "", &|p: &str| PathBuf::from(p), &mut d));
        match built {
            Some(cfg) if d.is_empty() => Ok(cfg),
            _ => Err(d.into_errors()),
        }
    }
}

/// Shape-check the section at `path` (every unknown key reported) and deserialize it.
pub(super) fn read(mut value: serde_yaml::Value, path: &str, d: &mut Diags) -> Option<RawOidc> {
    check_keys(&mut value, path, RawOidc::KEYS, d);
    item(value, path, d)
}

/// Checks `oidc:` (at `p`: `oidc` in warden.yaml); every problem goes to `d`.
pub(super) fn build_oidc(
    raw: RawOidc,
    p: &str,
    resolve: &dyn Fn(&str) -> PathBuf,
    d: &mut Diags,
) -> OidcConfig {
    let issuer = required(raw.issuer, p, "issuer", d)
        .trim_end_matches('/')
        .to_owned();
    let issuer_host = url_host(&issuer, p, "issuer", d);
    let client_id = required(raw.client_id, p, "client_id", d);
    let redirect_url = required(raw.redirect_url, p, "redirect_url", d);
    url_host(&redirect_url, p, "redirect_url", d);
    let client_secret = secret(raw.client_secret_env, raw.client_secret_file, p, resolve, d);
    if raw.roles.is_empty() {
        d.push(
            &child(p, "roles"),
            "map at least one group to Warden roles (`group: [role, …]`); nobody could sign in",
        );
    }
    for (group, roles) in &raw.roles {
        if roles.is_empty() {
            d.push(&child(&child(p, "roles"), group), "list at least one role");
        }
    }
    let mut scopes = if raw.scopes.is_empty() {
        vec!["email".into(), "profile".into(), "groups".into()]
    } else {
        raw.scopes
    };
    scopes.retain(|s| s != "openid");
    let duration = |raw: Option<String>, key: &str, default: u64, d: &mut Diags| {
        positive_duration(raw.as_deref(), &child(p, key), default, d)
    };
    OidcConfig {
        name: raw
            .name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(issuer_host),
        issuer,
        client_id,
        client_secret,
        redirect_url,
        scopes,
        username_claim: raw
            .username_claim
            .unwrap_or_else(|| "preferred_username".into()),
        groups_claim: raw.groups_claim.unwrap_or_else(|| "groups".into()),
        roles: raw.roles,
        login_timeout: duration(raw.login_timeout, "login_timeout", 600, d),
        jwks_refresh_min: duration(raw.jwks_refresh_min, "jwks_refresh_min", 30, d),
        discovery_retry: duration(raw.discovery_retry, "discovery_retry", 30, d),
    }
}

fn required(value: Option<String>, p: &str, key: &str, d: &mut Diags) -> String {
    match value {
        Some(v) if !v.trim().is_empty() => v,
        _ => {
            d.push(
                if p.is_empty() { key } else { p },
                format!("`{key}` is required"),
            );
            String::new()
        }
    }
}

/// The client secret from `client_secret_env` or `client_secret_file` (one of them, or
/// neither for a public client).
fn secret(
    env: Option<String>,
    file: Option<String>,
    p: &str,
    resolve: &dyn Fn(&str) -> PathBuf,
    d: &mut Diags,
) -> Option<Secret> {
    match (env, file) {
        (Some(_), Some(_)) => {
            d.push(
                &child(p, "client_secret_file"),
                "set either client_secret_env or client_secret_file, not both",
            );
            None
        }
        (Some(var), None) => match std::env::var(&var) {
            Ok(v) if !v.is_empty() => Some(Secret::new(v)),
            _ => {
                d.push(
                    &child(p, "client_secret_env"),
                    format!("environment variable `{var}` is not set"),
                );
                None
            }
        },
        (None, Some(file)) => read_secret_file(&resolve(&file), &child(p, "client_secret_file"), d),
        (None, None) => None,
    }
}

fn read_secret_file(path: &Path, key: &str, d: &mut Diags) -> Option<Secret> {
    match std::fs::read_to_string(path) {
        Ok(v) if !v.trim().is_empty() => Some(Secret::new(v.trim_end_matches(['\n', '\r']))),
        Ok(_) => {
            d.push(key, format!("{} is empty", path.display()));
            None
        }
        Err(e) => {
            d.push(key, format!("cannot read {}: {}", path.display(), e.kind()));
            None
        }
    }
}

/// The host of an `https://` URL, or of an `http://` URL to a loopback host (a provider
/// run by a test or on the same machine): anything else would send codes and tokens in
/// clear. Reports a problem and returns "" otherwise.
fn url_host(value: &str, p: &str, key: &str, d: &mut Diags) -> String {
    if value.is_empty() {
        return String::new();
    }
    let (scheme, rest) = value.split_once("://").unwrap_or(("", ""));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => format!("[{}]", v6.split(']').next().unwrap_or("")),
        None => authority.split(':').next().unwrap_or("").to_owned(),
    };
    let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]");
    match scheme {
        "https" if !host.is_empty() => host,
        "http" if loopback => host,
        _ => {
            d.push(
                &child(p, key),
                format!(
                    "`{value}` must be an https:// URL (http:// only to 127.0.0.1 or localhost)"
                ),
            );
            String::new()
        }
    }
}

fn positive_duration(raw: Option<&str>, key: &str, default_secs: u64, d: &mut Diags) -> Duration {
    let default = Duration::from_secs(default_secs);
    let Some(s) = raw else { return default };
    match warden_diagnostic::parse_duration(s) {
        Some(v) => v,
        None => {
            d.push(key, format!("`{s}` is not a duration like 30s, 10m or 1h"));
            default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_problem_at_once_with_positions() {
        let err = OidcConfig::from_yaml(
            "issuer: http://login.example.com\nredirect_url: not a url\nclient_secret_env: WARDEN_TEST_UNSET_SECRET\nroles: { staff: [] }\nlogin_timeout: soon\nisuer: x\n",
        )
        .unwrap_err()
        .to_string();
        for needle in [
            "oidc:1:1: issuer: `http://login.example.com` must be an https:// URL",
            "`client_id` is required",
            "oidc:2:1: redirect_url: `not a url` must be an https:// URL",
            "oidc:3:1: client_secret_env: environment variable `WARDEN_TEST_UNSET_SECRET` is not set",
            "roles.staff: list at least one role",
            "oidc:5:1: login_timeout: `soon` is not a duration",
            "oidc:6:1: isuer: unknown key `isuer` (did you mean `issuer`?)",
        ] {
            assert!(err.contains(needle), "{needle} in\n{err}");
        }
        assert!(!err.contains("WARDEN_TEST_UNSET_SECRET="), "{err}");
    }

    #[test]
    fn applies_defaults_and_reads_the_secret_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("secret");
        std::fs::write(&file, "s3cret\n").expect("write");
        let s = OidcConfig::from_yaml(&format!(
            "issuer: https://login.example.com/\nclient_id: warden\nclient_secret_file: {}\nredirect_url: https://w.example.com/login/oidc/callback\nroles: {{ ops: [admin] }}\nscopes: [openid, groups]\n",
            file.display()
        ))
        .expect("valid");
        assert_eq!(s.issuer, "https://login.example.com");
        assert_eq!(s.name, "login.example.com");
        assert_eq!(s.scopes, ["groups"]);
        assert_eq!(s.client_secret.as_ref().map(Secret::expose), Some("s3cret"));
        assert_eq!(format!("{s:?}").matches("s3cret").count(), 0);
        assert_eq!(
            (s.username_claim.as_str(), s.groups_claim.as_str()),
            ("preferred_username", "groups")
        );
        assert_eq!(s.login_timeout, Duration::from_secs(600));
        assert_eq!(s.discovery_retry, Duration::from_secs(30));
        let local = OidcConfig::from_yaml(
            "name: Test IdP\nissuer: http://127.0.0.1:9000\nclient_id: w\nredirect_url: http://localhost:8080/login/oidc/callback\nroles: { ops: [admin] }\n",
        )
        .expect("loopback http is fine");
        assert_eq!(local.name, "Test IdP");
        assert!(local.client_secret.is_none());
    }
}
