//! `fleet:` — several replicas sharing approvals in PostgreSQL (docs/fleet.md). Plain
//! data and its validation; the app hands it to `warden-fleet`.
//!
//! Absent, Warden runs embedded on sled exactly as without fleet mode. The database
//! password comes from the URL, an environment variable or a file; it is a [`Secret`].
//! This module must never put the password in a diagnostic and never connect anywhere.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::raw::RawUpstreamTls;
use super::schema::{child, Diags};
use super::{Secret, UpstreamTls};

/// The validated `fleet:` section.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// `postgresql://user@host:port/database` (a password in it is accepted).
    pub url: String,
    /// From `password_env` or `password_file`, when given.
    pub password: Option<Secret>,
    /// This replica's name in the fleet: `[A-Za-z0-9._-]`, at most 63 characters.
    pub replica_id: String,
    /// How often this replica renews its lease (default 2s).
    pub heartbeat: Duration,
    /// How long a lease lasts without renewal (default 10s, at least twice `heartbeat`).
    pub lease: Duration,
    /// Backstop re-query of the shared approvals besides LISTEN/NOTIFY (default 5s).
    pub poll: Duration,
    /// Connecting and each database round trip give up after this (default 5s).
    pub connect_timeout: Duration,
    /// Pooled connections (default 8; the LISTEN connection is one more).
    pub pool_size: usize,
    /// How often new audit records are shipped to the database (default 250ms).
    pub ship_every: Duration,
    /// How often the shipped audit head is anchored in the shared anchor chain
    /// (default 10s; also at a graceful stop).
    pub anchor_every: Duration,
    /// `tls:` — connect over TLS, verifying the server's certificate against `ca` and its
    /// name (the URL's host, or `server_name`); client certificate optional.
    pub tls: Option<UpstreamTls>,
}

/// `fleet:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFleet {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<String>,
    #[serde(default)]
    pub replica_id: Option<String>,
    #[serde(default)]
    pub replica_id_env: Option<String>,
    #[serde(default)]
    pub heartbeat: Option<String>,
    #[serde(default)]
    pub lease: Option<String>,
    #[serde(default)]
    pub poll: Option<String>,
    #[serde(default)]
    pub connect_timeout: Option<String>,
    #[serde(default)]
    pub pool_size: Option<usize>,
    #[serde(default)]
    pub ship_every: Option<String>,
    #[serde(default)]
    pub anchor_every: Option<String>,
    #[serde(default)]
    pub tls: Option<RawUpstreamTls>,
}

impl RawFleet {
    pub const KEYS: &'static [&'static str] = &[
        "url",
        "password_env",
        "password_file",
        "replica_id",
        "replica_id_env",
        "heartbeat",
        "lease",
        "poll",
        "connect_timeout",
        "pool_size",
        "ship_every",
        "anchor_every",
        "tls",
    ];
}

fn duration(raw: Option<&str>, key: &str, default: Duration, d: &mut Diags) -> Duration {
    let Some(s) = raw else { return default };
    match warden_diagnostic::parse_duration(s) {
        Some(v) if !v.is_zero() => v,
        Some(_) => {
            d.push(key, "must be longer than 0s");
            default
        }
        None => {
            d.push(key, format!("`{s}` is not a duration like 2s, 10s or 1m"));
            default
        }
    }
}

/// Checks `fleet:`; every problem goes to `d`.
pub(super) fn build_fleet(
    raw: RawFleet,
    resolve: &dyn Fn(&str) -> PathBuf,
    d: &mut Diags,
) -> FleetConfig {
    let p = "fleet";
    let url = match raw.url {
        None => {
            d.push(p, "`url` is required: postgresql://user@host:5432/database");
            String::new()
        }
        Some(u) if u.starts_with("postgresql://") || u.starts_with("postgres://") => {
            match (sslmode(&u), raw.tls.is_some()) {
                (Some("disable" | "prefer" | "allow") | None, false) => {}
                (Some("disable" | "prefer" | "allow"), true) => d.push(
                    &child(p, "url"),
                    "sslmode in the URL contradicts `tls:`; leave it out (with `tls:` Warden always connects over TLS and verifies the server)",
                ),
                (Some("require" | "verify-ca" | "verify-full") | None, true) => {}
                (Some(mode @ ("require" | "verify-ca" | "verify-full")), false) => d.push(
                    &child(p, "url"),
                    format!("sslmode={mode} needs `tls:` with the `ca` that signed the server's certificate (Warden verifies it and the host name)"),
                ),
                (Some(mode), _) => d.push(
                    &child(p, "url"),
                    format!("sslmode={mode} is not a PostgreSQL sslmode (disable, prefer, require, verify-ca, verify-full)"),
                ),
            }
            u
        }
        Some(_) => {
            d.push(
                &child(p, "url"),
                "must be a URL like postgresql://user@host:5432/database",
            );
            String::new()
        }
    };
    let password = match (raw.password_env, raw.password_file) {
        (Some(_), Some(_)) => {
            d.push(
                &child(p, "password_file"),
                "set either password_env or password_file, not both",
            );
            None
        }
        (Some(var), None) => match std::env::var(&var) {
            Ok(v) => Some(Secret::new(v)),
            Err(_) => {
                d.push(
                    &child(p, "password_env"),
                    format!("environment variable `{var}` is not set"),
                );
                None
            }
        },
        (None, Some(file)) => {
            let path = resolve(&file);
            match std::fs::read_to_string(&path) {
                Ok(v) => Some(Secret::new(v.trim_end_matches(['\n', '\r']))),
                Err(e) => {
                    d.push(
                        &child(p, "password_file"),
                        format!("cannot read {}: {}", path.display(), e.kind()),
                    );
                    None
                }
            }
        }
        (None, None) => None,
    };
    let id_given = raw.replica_id.is_some() || raw.replica_id_env.is_some();
    let replica_id = replica_id(raw.replica_id, raw.replica_id_env, d);
    let valid_id = !replica_id.is_empty()
        && replica_id.len() <= 63
        && replica_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if replica_id.is_empty() {
        if !id_given {
            d.push(
            p,
            "`replica_id` (or `replica_id_env`) is required: this replica's unique name in the fleet",
        );
        }
    } else if !valid_id {
        d.push(
            &child(p, "replica_id"),
            format!("`{replica_id}`: use letters, digits, `.`, `_` and `-` (at most 63)"),
        );
    }
    let heartbeat = duration(
        raw.heartbeat.as_deref(),
        &child(p, "heartbeat"),
        Duration::from_secs(2),
        d,
    );
    let lease = duration(
        raw.lease.as_deref(),
        &child(p, "lease"),
        Duration::from_secs(10),
        d,
    );
    if lease < heartbeat * 2 {
        d.push(
            &child(p, "lease"),
            format!(
                "must be at least twice the heartbeat ({}s), or one late heartbeat declares a live replica dead",
                heartbeat.as_secs_f64()
            ),
        );
    }
    let poll = duration(
        raw.poll.as_deref(),
        &child(p, "poll"),
        Duration::from_secs(5),
        d,
    );
    let connect_timeout = duration(
        raw.connect_timeout.as_deref(),
        &child(p, "connect_timeout"),
        Duration::from_secs(5),
        d,
    );
    let pool_size = raw.pool_size.unwrap_or(8);
    if pool_size == 0 {
        d.push(&child(p, "pool_size"), "must be at least 1");
    }
    let ship_every = duration(
        raw.ship_every.as_deref(),
        &child(p, "ship_every"),
        Duration::from_millis(250),
        d,
    );
    let anchor_every = duration(
        raw.anchor_every.as_deref(),
        &child(p, "anchor_every"),
        Duration::from_secs(10),
        d,
    );
    let tls = raw.tls.map(|t| {
        let k = child(p, "tls");
        if t.ca.is_none() {
            d.push(
                &k,
                "`ca` is required: the PEM file of the authority that signed the fleet database's certificate",
            );
        }
        super::targets::build_upstream_tls(t, &k, resolve, d)
    });
    FleetConfig {
        url,
        password,
        replica_id,
        heartbeat,
        lease,
        poll,
        connect_timeout,
        pool_size,
        ship_every,
        anchor_every,
        tls,
    }
}

/// `replica_id`, or the value of the environment variable `replica_id_env` names (one
/// config for every replica: a Kubernetes pod's name); empty when neither is usable.
fn replica_id(literal: Option<String>, env: Option<String>, d: &mut Diags) -> String {
    match (literal, env) {
        (Some(_), Some(_)) => {
            d.push(
                &child("fleet", "replica_id_env"),
                "set either replica_id or replica_id_env, not both",
            );
            String::new()
        }
        (Some(id), None) => id,
        (None, Some(var)) => match std::env::var(&var) {
            Ok(v) if !v.is_empty() => v,
            _ => {
                d.push(
                    &child("fleet", "replica_id_env"),
                    format!("environment variable `{var}` is not set (it names this replica)"),
                );
                String::new()
            }
        },
        (None, None) => String::new(),
    }
}

/// The `sslmode` query parameter of a URL, if any.
fn sslmode(url: &str) -> Option<&str> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|kv| kv.strip_prefix("sslmode="))
}
