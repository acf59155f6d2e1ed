//! The `oidc:` settings: what a deployment writes, parsed strictly (unknown keys are
//! errors) and validated with every problem listed at once. The client secret is read
//! from the environment or a file, never written in the settings themselves.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::OidcError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret_env: Option<String>,
    client_secret_file: Option<String>,
    redirect_url: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    username_claim: Option<String>,
    groups_claim: Option<String>,
    #[serde(default)]
    roles: BTreeMap<String, Vec<String>>,
    login_timeout_secs: Option<u64>,
    jwks_refresh_min_secs: Option<u64>,
}

/// Validated settings. Build with [`OidcSettings::from_yaml`].
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The provider's issuer URL (discovery is `<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    pub client_id: String,
    /// The client secret; `None` for a public client (PKCE alone).
    pub client_secret: Option<String>,
    /// Where the provider sends the browser back (the console's callback route).
    pub redirect_url: String,
    /// Requested besides `openid` (default `email`, `profile`, `groups`).
    pub scopes: Vec<String>,
    /// The claim whose value is the Warden user name (default `preferred_username`).
    pub username_claim: String,
    /// The claim holding the person's groups (default `groups`).
    pub groups_claim: String,
    /// Group → Warden roles. A person whose groups map to no role is refused.
    pub roles: BTreeMap<String, Vec<String>>,
    /// How long a started sign-in may wait for its callback (default 10 minutes).
    pub login_timeout: Duration,
    /// Fetch the provider's keys again at most this often when a token names an unknown
    /// key (default 30 s), so forged key ids cannot make Warden hammer the provider.
    pub jwks_refresh_min: Duration,
}

impl OidcSettings {
    /// Parse and validate the YAML of the `oidc:` section; the secret is read from
    /// `client_secret_env` / `client_secret_file` now.
    pub fn from_yaml(text: &str) -> Result<OidcSettings, OidcError> {
        let raw: Raw = serde_yaml::from_str(text)
            .map_err(|e| OidcError::Settings(vec![format!("oidc: {e}")]))?;
        let mut errors = Vec::new();
        let issuer = required(&mut errors, raw.issuer, "issuer");
        if !issuer.is_empty() {
            check_url(&mut errors, "issuer", &issuer);
        }
        let client_id = required(&mut errors, raw.client_id, "client_id");
        let redirect_url = required(&mut errors, raw.redirect_url, "redirect_url");
        if !redirect_url.is_empty() {
            check_url(&mut errors, "redirect_url", &redirect_url);
        }
        let client_secret = match (raw.client_secret_env, raw.client_secret_file) {
            (Some(_), Some(_)) => {
                errors.push("oidc: set client_secret_env or client_secret_file, not both".into());
                None
            }
            (Some(var), None) => match std::env::var(&var) {
                Ok(v) if !v.is_empty() => Some(v),
                _ => {
                    errors.push(format!(
                        "oidc.client_secret_env: environment variable `{var}` is not set"
                    ));
                    None
                }
            },
            (None, Some(path)) => match std::fs::read_to_string(&path) {
                Ok(v) => Some(v.strip_suffix('\n').unwrap_or(&v).to_string()),
                Err(e) => {
                    errors.push(format!("oidc.client_secret_file: cannot read {path}: {e}"));
                    None
                }
            },
            (None, None) => None,
        };
        if raw.roles.is_empty() {
            errors.push("oidc.roles: map at least one group to Warden roles (`groups → roles`); nobody could sign in".into());
        }
        for (group, roles) in &raw.roles {
            if roles.is_empty() {
                errors.push(format!("oidc.roles.{group}: list at least one role"));
            }
        }
        let mut scopes = if raw.scopes.is_empty() {
            vec![
                "email".to_string(),
                "profile".to_string(),
                "groups".to_string(),
            ]
        } else {
            raw.scopes
        };
        scopes.retain(|s| s != "openid");
        if !errors.is_empty() {
            return Err(OidcError::Settings(errors));
        }
        Ok(OidcSettings {
            issuer: issuer.trim_end_matches('/').to_string(),
            client_id,
            client_secret,
            redirect_url,
            scopes,
            username_claim: raw
                .username_claim
                .unwrap_or_else(|| "preferred_username".into()),
            groups_claim: raw.groups_claim.unwrap_or_else(|| "groups".into()),
            roles: raw.roles,
            login_timeout: Duration::from_secs(raw.login_timeout_secs.unwrap_or(600)),
            jwks_refresh_min: Duration::from_secs(raw.jwks_refresh_min_secs.unwrap_or(30)),
        })
    }
}

fn required(errors: &mut Vec<String>, value: Option<String>, key: &str) -> String {
    match value {
        Some(v) if !v.trim().is_empty() => v,
        _ => {
            errors.push(format!("oidc.{key}: required"));
            String::new()
        }
    }
}

/// `https://…`, or `http://` to a loopback host (a provider run by a test or on the
/// same machine): anything else would send codes and tokens in clear.
fn check_url(errors: &mut Vec<String>, key: &str, value: &str) {
    let Ok(url) = openidconnect::url::Url::parse(value) else {
        errors.push(format!("oidc.{key}: `{value}` is not a URL"));
        return;
    };
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => errors.push(format!(
            "oidc.{key}: `{value}` must be https:// (http:// only to 127.0.0.1 or localhost)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_problem_at_once() {
        let err = OidcSettings::from_yaml(
            "issuer: http://login.example.com\nredirect_url: not a url\nclient_secret_env: WARDEN_TEST_UNSET_SECRET\nroles: { staff: [] }\n",
        )
        .unwrap_err();
        let OidcError::Settings(list) = err else {
            panic!("{err}")
        };
        let all = list.join("\n");
        for needle in [
            "oidc.issuer: `http://login.example.com` must be https://",
            "oidc.client_id: required",
            "oidc.redirect_url: `not a url` is not a URL",
            "environment variable `WARDEN_TEST_UNSET_SECRET` is not set",
            "oidc.roles.staff: list at least one role",
        ] {
            assert!(all.contains(needle), "{needle} in\n{all}");
        }
    }

    #[test]
    fn refuses_unknown_keys_and_applies_defaults() {
        let err = OidcSettings::from_yaml("isuer: x\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `isuer`"), "{err}");
        let s = OidcSettings::from_yaml(
            "issuer: https://login.example.com/\nclient_id: warden\nredirect_url: https://w.example.com/cb\nroles: { ops: [admin] }\n",
        )
        .expect("valid");
        assert_eq!(s.issuer, "https://login.example.com");
        assert_eq!(s.scopes, ["email", "profile", "groups"]);
        assert_eq!(
            (s.username_claim.as_str(), s.groups_claim.as_str()),
            ("preferred_username", "groups")
        );
        assert_eq!(s.client_secret, None);
        assert_eq!(s.login_timeout, Duration::from_secs(600));
    }
}
