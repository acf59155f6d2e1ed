//! `gateway_tokens:` — the short-lived gateway tokens a person signed in to the console
//! mints for the gateways (docs/configuration.md, "Gateway tokens"). Plain data and its
//! validation; the Gate's token store mints and checks them.
//!
//! This module must never hold or print a token.

use std::time::Duration;

use serde::Deserialize;
use warden_diagnostic::parse_duration;

use super::schema::{check_keys, child, item, Diags};

/// The validated `gateway_tokens:` section (its defaults when the section is absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayTokenSettings {
    /// `false`: the console mints no tokens and the gateways take none.
    pub enabled: bool,
    /// The longest lifetime a token may be minted with (default 1h, at most 12h).
    pub max_ttl: Duration,
    /// Live tokens one person may hold at once (default 20, 1 to 1000).
    pub max_per_user: usize,
}

impl Default for GatewayTokenSettings {
    fn default() -> Self {
        GatewayTokenSettings {
            enabled: true,
            max_ttl: Duration::from_secs(3600),
            max_per_user: 20,
        }
    }
}

/// The longest `max_ttl` accepted: a console session's lifetime, so a token never
/// outlives what the session minting it could have lasted.
pub const MAX_TTL_CEILING: Duration = Duration::from_secs(12 * 3600);

/// `gateway_tokens:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGatewayTokens {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub max_ttl: Option<String>,
    #[serde(default)]
    pub max_per_user: Option<u64>,
}

impl RawGatewayTokens {
    pub const KEYS: &'static [&'static str] = &["enabled", "max_ttl", "max_per_user"];
}

/// Shape-check the section at `path` (every unknown key reported) and deserialize it.
pub(super) fn read(
    mut value: serde_yaml::Value,
    path: &str,
    d: &mut Diags,
) -> Option<RawGatewayTokens> {
    check_keys(&mut value, path, RawGatewayTokens::KEYS, d);
    item(value, path, d)
}

/// Checks `gateway_tokens:` (at `p`); every problem goes to `d`.
pub(super) fn build(raw: RawGatewayTokens, p: &str, d: &mut Diags) -> GatewayTokenSettings {
    let defaults = GatewayTokenSettings::default();
    let max_ttl = match raw.max_ttl.as_deref() {
        None => defaults.max_ttl,
        Some(s) => match parse_duration(s) {
            Some(t) if t >= Duration::from_secs(1) && t <= MAX_TTL_CEILING => t,
            Some(_) => {
                d.push(
                    &child(p, "max_ttl"),
                    format!("`{s}` is out of range: give 1s to 12h"),
                );
                defaults.max_ttl
            }
            None => {
                d.push(
                    &child(p, "max_ttl"),
                    format!("`{s}` is not a duration like 30m, 1h or 12h"),
                );
                defaults.max_ttl
            }
        },
    };
    let max_per_user = match raw.max_per_user {
        None => defaults.max_per_user,
        Some(n @ 1..=1000) => n as usize,
        Some(n) => {
            d.push(
                &child(p, "max_per_user"),
                format!("{n} is out of range: give 1 to 1000"),
            );
            defaults.max_per_user
        }
    };
    GatewayTokenSettings {
        enabled: raw.enabled.unwrap_or(defaults.enabled),
        max_ttl,
        max_per_user,
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;
    use std::time::Duration;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, "warden.yaml", std::path::Path::new(".")).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_settings_and_mistakes() {
        let c = parse("").expect("empty config");
        assert!(c.gateway_tokens.enabled);
        assert_eq!(c.gateway_tokens.max_ttl, Duration::from_secs(3600));
        assert_eq!(c.gateway_tokens.max_per_user, 20);
        let c = parse("gateway_tokens: { max_ttl: 12h, max_per_user: 5, enabled: false }\n")
            .expect("valid");
        assert_eq!(c.gateway_tokens.max_ttl, Duration::from_secs(12 * 3600));
        assert_eq!(c.gateway_tokens.max_per_user, 5);
        assert!(!c.gateway_tokens.enabled);
        let err = parse("gateway_tokens:\n  max_ttl: 30d\n  max_per_user: 0\n  maxttl: 1h\n")
            .expect_err("invalid");
        for needle in [
            "warden.yaml:2:3: gateway_tokens.max_ttl: `30d` is out of range: give 1s to 12h",
            "warden.yaml:3:3: gateway_tokens.max_per_user: 0 is out of range: give 1 to 1000",
            "gateway_tokens.maxttl: unknown key `maxttl` (did you mean `max_ttl`?)",
        ] {
            assert!(err.contains(needle), "missing {needle:?} in\n{err}");
        }
        let err = parse("gateway_tokens: { max_ttl: soon }\n").expect_err("invalid");
        assert!(err.contains("`soon` is not a duration"), "{err}");
    }
}
