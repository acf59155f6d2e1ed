//! `targets:` → [`TargetConfig`]s: names, protocols, listen addresses (no two targets and
//! the console on one address), upstream secrets, TLS files, connection caps. Each check
//! is its own step and reports into the shared diagnostics; none stops the others.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use warden_diagnostic::suggest;
use warden_inspect::Protocol;

use super::build::{build_ssh, build_tls, existing_file, parse_addr};
use super::raw::{RawTarget, RawTls, RawUpstreamTls};
use super::schema::{child, Diags};
use super::{protocol_supported, Secret, TargetConfig, UpstreamTls, WebConfig};

const PROTOCOL_WORDS: &[&str] = &["postgres", "mysql", "http", "kubernetes", "ssh"];
const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Names and addresses taken so far, for the duplicate checks.
struct Taken {
    names: HashMap<String, usize>,
    listens: BTreeMap<SocketAddr, String>,
}

pub(super) fn build_targets(
    raw: Vec<(usize, RawTarget)>,
    web: &WebConfig,
    resolve: &dyn Fn(&str) -> PathBuf,
    d: &mut Diags,
) -> Vec<Arc<TargetConfig>> {
    let mut taken = Taken {
        names: HashMap::new(),
        listens: BTreeMap::from([(web.listen, "web.listen".to_string())]),
    };
    let mut out = Vec::new();
    for (i, mut t) in raw {
        let p = format!("targets[{i}]");
        check_name(&t.name, i, &p, &mut taken, d);
        let protocol = check_protocol(&t.protocol, &p, d);
        let listen = check_listen(&t.listen, &p, &mut taken, d);
        if t.upstream.trim().is_empty() {
            d.push(&child(&p, "upstream"), "must not be empty");
        }
        let upstream_password = upstream_password(&t, &p, resolve, d);
        let tls = t
            .tls
            .take()
            .map(|x| build_tls(x, &child(&p, "tls"), resolve, d));
        let upstream_tls = t
            .upstream_tls
            .take()
            .map(|u| build_upstream_tls(u, &child(&p, "upstream_tls"), resolve, d));
        let max_connections = match t.max_connections {
            Some(0) => {
                d.push(&child(&p, "max_connections"), "must be at least 1");
                1
            }
            Some(n) => n,
            None => DEFAULT_MAX_CONNECTIONS,
        };
        let (Some(protocol), Some(listen)) = (protocol, listen) else {
            continue;
        };
        let postgres = t.postgres.unwrap_or_default();
        check_drift(&postgres.drift, protocol, &p, d);
        let ssh = build_ssh(t.ssh.unwrap_or_default(), &child(&p, "ssh"), resolve, d);
        let mut mysql = t.mysql.unwrap_or_default();
        mysql.rsa_private_key = mysql.rsa_private_key.map(|k| {
            let key = child(&p, "mysql.rsa_private_key");
            existing_file(resolve(&k.to_string_lossy()), &key, d)
        });
        out.push(Arc::new(TargetConfig {
            name: t.name,
            protocol,
            listen,
            upstream: t.upstream,
            labels: t.labels,
            upstream_user: t.upstream_user,
            upstream_password,
            tls,
            upstream_tls,
            max_connections,
            postgres,
            mysql,
            http: t.http.unwrap_or_default(),
            ssh,
        }));
    }
    out
}

/// `postgres.drift`: only postgres targets are fingerprinted; at least a second apart.
fn check_drift(drift: &crate::DriftOptions, protocol: Protocol, p: &str, d: &mut Diags) {
    let key = child(p, "postgres.drift");
    if drift.enabled && protocol != Protocol::Postgres {
        d.push(
            &child(&key, "enabled"),
            format!("drift polling reads PostgreSQL catalogs; target protocol is {protocol}"),
        );
    }
    if drift.interval < std::time::Duration::from_secs(1) {
        d.push(&child(&key, "interval"), "must be at least 1s");
    }
}

/// Letters, digits, `-`, `_`, `.`; unique.
fn check_name(name: &str, index: usize, p: &str, taken: &mut Taken, d: &mut Diags) {
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !name_ok {
        d.push(
            &child(p, "name"),
            "must be non-empty letters, digits, `-`, `_` or `.`",
        );
    }
    if let Some(first) = taken.names.insert(name.to_string(), index) {
        d.push(
            &child(p, "name"),
            format!("duplicate target name `{name}` (first defined at targets[{first}])"),
        );
    }
}

/// A known protocol that this build serves.
fn check_protocol(word: &str, p: &str, d: &mut Diags) -> Option<Protocol> {
    let Some(protocol) = Protocol::parse(word) else {
        d.push_with(
            &child(p, "protocol"),
            format!(
                "unknown protocol `{word}` (one of: {})",
                PROTOCOL_WORDS.join(", ")
            ),
            suggest(word, PROTOCOL_WORDS),
        );
        return None;
    };
    if !protocol_supported(protocol) {
        d.push(
            &child(p, "protocol"),
            format!("protocol {protocol} is not supported yet"),
        );
    }
    Some(protocol)
}

/// An address no other target (nor the console) listens on; port 0 ("any free port")
/// never clashes.
fn check_listen(s: &str, p: &str, taken: &mut Taken, d: &mut Diags) -> Option<SocketAddr> {
    let listen = parse_addr(s, &child(p, "listen"), d);
    if let Some(addr) = listen.filter(|a| a.port() != 0) {
        if let Some(other) = taken.listens.insert(addr, p.to_string()) {
            d.push(
                &child(p, "listen"),
                format!("address {addr} is already used by {other}"),
            );
        }
    }
    listen
}

/// The upstream secret, from the environment or a file (never both).
fn upstream_password(
    t: &RawTarget,
    p: &str,
    resolve: &dyn Fn(&str) -> PathBuf,
    d: &mut Diags,
) -> Option<Secret> {
    match (&t.upstream_password_env, &t.upstream_password_file) {
        (Some(_), Some(_)) => {
            d.push(
                &child(p, "upstream_password_file"),
                "set either upstream_password_env or upstream_password_file, not both",
            );
            None
        }
        (Some(var), None) => match std::env::var(var) {
            Ok(v) => Some(Secret::new(v)),
            Err(_) => {
                d.push(
                    &child(p, "upstream_password_env"),
                    format!("environment variable `{var}` is not set"),
                );
                None
            }
        },
        (None, Some(file)) => {
            let path = resolve(file);
            match std::fs::read_to_string(&path) {
                Ok(v) => Some(Secret::new(v.trim_end_matches(['\n', '\r']))),
                Err(e) => {
                    d.push(
                        &child(p, "upstream_password_file"),
                        format!("cannot read {}: {}", path.display(), e.kind()),
                    );
                    None
                }
            }
        }
        (None, None) => None,
    }
}

/// CA, client certificate pair and server name for connecting upstream.
pub(super) fn build_upstream_tls(
    u: RawUpstreamTls,
    k: &str,
    resolve: &dyn Fn(&str) -> PathBuf,
    d: &mut Diags,
) -> UpstreamTls {
    let client = match (u.cert, u.key) {
        (Some(c), Some(key)) => Some(build_tls(RawTls { cert: c, key }, k, resolve, d)),
        (None, None) => None,
        _ => {
            d.push(k, "client `cert` and `key` must be given together");
            None
        }
    };
    UpstreamTls {
        ca: u.ca.map(|c| existing_file(resolve(&c), &child(k, "ca"), d)),
        client,
        server_name: u.server_name,
    }
}
