//! Raw config → typed [`Config`]: resolve paths, parse addresses, read secrets, check
//! cross-references and duplicates. Every problem becomes a diagnostic; nothing stops
//! at the first.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_yaml::Value;
use warden_inspect::Protocol;

use super::raw::*;
use super::schema::{check_keys, check_nested, child, item, kind, list, suggest, Diags};
use super::*;
use crate::auth::directory::{normalize_ssh_key, User};
use crate::auth::{password, ScramVerifier};

const NOTIFY_EVENTS: &[&str] = &["hold", "decision", "deny", "alert"];
const PROTOCOL_WORDS: &[&str] = &["postgres", "mysql", "http", "kubernetes", "ssh"];
const DEFAULT_MAX_CONNECTIONS: usize = 1024;

pub(super) fn build(text: &str, file: &str, base: &Path) -> Result<Config, ConfigErrors> {
    let mut d = Diags::new(file, text);
    let mut root: Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let (line, col) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            d.push_at(line, col, format!("invalid YAML: {e}"));
            return Err(ConfigErrors(d.out));
        }
    };
    if matches!(root, Value::Null) {
        root = Value::Mapping(Default::default());
    }
    if !matches!(root, Value::Mapping(_)) {
        d.push(
            "",
            format!("the config must be a mapping, found {}", kind(&root)),
        );
        return Err(ConfigErrors(d.out));
    }
    check_keys(&mut root, "", RawConfig::KEYS, &mut d);
    let Value::Mapping(mut map) = root else {
        return Err(ConfigErrors(d.out));
    };
    let mut take = |k: &str| map.remove(k);

    let raw_web: Option<RawWeb> = take("web").and_then(|mut v| {
        check_keys(&mut v, "web", RawWeb::KEYS, &mut d);
        check_nested(&mut v, "web", "tls", RawTls::KEYS, &mut d);
        item(v, "web", &mut d)
    });
    let raw_audit: Option<RawAudit> = take("audit").and_then(|mut v| {
        check_keys(&mut v, "audit", RawAudit::KEYS, &mut d);
        item(v, "audit", &mut d)
    });
    let raw_policies: Vec<String> = take("policies")
        .and_then(|v| item(v, "policies", &mut d))
        .unwrap_or_default();
    let raw_data_dir: Option<String> = take("data_dir").and_then(|v| item(v, "data_dir", &mut d));
    let raw_grace: Option<String> =
        take("shutdown_grace").and_then(|v| item(v, "shutdown_grace", &mut d));
    let raw_users: Vec<(usize, RawUser)> = list(take("users"), "users", RawUser::KEYS, &[], &mut d);
    let raw_targets: Vec<(usize, RawTarget)> = list(
        take("targets"),
        "targets",
        RawTarget::KEYS,
        &[
            ("tls", RawTls::KEYS),
            ("upstream_tls", RawUpstreamTls::KEYS),
        ],
        &mut d,
    );
    let raw_notes: Vec<(usize, RawNotification)> = list(
        take("notifications"),
        "notifications",
        RawNotification::KEYS,
        &[],
        &mut d,
    );

    let resolve = |p: &str| -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };

    let web = build_web(raw_web.unwrap_or_default(), &resolve, &mut d);
    let audit = raw_audit.unwrap_or_default();
    let audit = AuditPaths {
        path: resolve(audit.path.as_deref().unwrap_or("data/audit")),
        signing_key: resolve(audit.signing_key.as_deref().unwrap_or("data/audit.key")),
        checkpoint_file: audit.checkpoint_file.as_deref().map(&resolve),
    };

    let mut policies = Vec::new();
    for (i, p) in raw_policies.iter().enumerate() {
        let path = resolve(p);
        if !path.exists() {
            d.push(
                &format!("policies[{i}]"),
                format!("no such file or folder: {}", path.display()),
            );
        }
        policies.push(path);
    }

    let users = build_users(raw_users, &mut d);
    let targets = build_targets(raw_targets, &web, &resolve, &mut d);

    let mut notifications = Vec::new();
    for (i, n) in raw_notes {
        let p = format!("notifications[{i}]");
        if !(n.webhook.starts_with("http://") || n.webhook.starts_with("https://")) {
            d.push(&child(&p, "webhook"), "must be an http:// or https:// URL");
        }
        for (j, ev) in n.on.iter().enumerate() {
            if !NOTIFY_EVENTS.contains(&ev.as_str()) {
                d.push_with(
                    &format!("{p}.on[{j}]"),
                    format!(
                        "unknown event `{ev}` (one of: {})",
                        NOTIFY_EVENTS.join(", ")
                    ),
                    suggest(ev, NOTIFY_EVENTS),
                );
            }
        }
        let on = if n.on.is_empty() {
            NOTIFY_EVENTS.iter().map(|s| s.to_string()).collect()
        } else {
            n.on
        };
        notifications.push(NotificationConfig {
            webhook: n.webhook,
            on,
        });
    }

    let shutdown_grace = match raw_grace.as_deref() {
        None => Duration::from_secs(10),
        Some(s) => parse_duration(s).unwrap_or_else(|| {
            d.push(
                "shutdown_grace",
                format!("`{s}` is not a duration like 30s, 5m or 1h"),
            );
            Duration::from_secs(10)
        }),
    };

    if !d.out.is_empty() {
        d.out.sort_by_key(|x| (x.line, x.column));
        return Err(ConfigErrors(d.out));
    }
    Ok(Config {
        file: PathBuf::new(),
        base_dir: base.to_path_buf(),
        web,
        audit,
        policies,
        users,
        targets,
        notifications,
        data_dir: resolve(raw_data_dir.as_deref().unwrap_or("data")),
        shutdown_grace,
    })
}

/// `30s`, `5m`, `1h`, `250ms`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n.checked_mul(60)?)),
        "h" => Some(Duration::from_secs(n.checked_mul(3600)?)),
        _ => None,
    }
}

fn parse_addr(s: &str, key: &str, d: &mut Diags<'_>) -> Option<SocketAddr> {
    match s.parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            d.push(key, format!("`{s}` is not an address like 127.0.0.1:6432"));
            None
        }
    }
}

fn existing_file(path: PathBuf, key: &str, d: &mut Diags<'_>) -> PathBuf {
    if !path.is_file() {
        d.push(key, format!("no such file: {}", path.display()));
    }
    path
}

/// Anchor the SSH options' paths at the config folder (like every other path in the
/// file) and check that the files Warden only reads exist. The host key may be absent:
/// it is generated on first start.
fn build_ssh(
    mut ssh: SshOptions,
    key: &str,
    resolve: &dyn Fn(&str) -> PathBuf,
    d: &mut Diags<'_>,
) -> SshOptions {
    let anchor = |p: PathBuf| resolve(&p.to_string_lossy());
    ssh.host_key = ssh.host_key.map(anchor);
    ssh.known_hosts = ssh
        .known_hosts
        .map(|p| existing_file(anchor(p), &child(key, "known_hosts"), d));
    ssh.upstream_key_file = ssh
        .upstream_key_file
        .map(|p| existing_file(anchor(p), &child(key, "upstream_key_file"), d));
    ssh
}

fn build_tls(
    raw: RawTls,
    key: &str,
    resolve: &dyn Fn(&str) -> PathBuf,
    d: &mut Diags<'_>,
) -> TlsFiles {
    TlsFiles {
        cert: existing_file(resolve(&raw.cert), &child(key, "cert"), d),
        key: existing_file(resolve(&raw.key), &child(key, "key"), d),
    }
}

fn build_web(raw: RawWeb, resolve: &dyn Fn(&str) -> PathBuf, d: &mut Diags<'_>) -> WebConfig {
    let fallback: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8080));
    let listen = match raw.listen.as_deref() {
        Some(s) => parse_addr(s, "web.listen", d).unwrap_or(fallback),
        None => fallback,
    };
    let tls = raw.tls.map(|t| build_tls(t, "web.tls", resolve, d));
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_url = match raw.public_url {
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
            u.trim_end_matches('/').to_owned()
        }
        Some(u) => {
            d.push(
                "web.public_url",
                format!("`{u}` must start with http:// or https://"),
            );
            u
        }
        None => format!("{scheme}://{listen}"),
    };
    WebConfig {
        listen,
        public_url,
        tls,
    }
}

fn build_users(raw: Vec<(usize, RawUser)>, d: &mut Diags<'_>) -> Vec<User> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut users = Vec::new();
    for (i, u) in raw {
        let p = format!("users[{i}]");
        if u.name.trim().is_empty() {
            d.push(&child(&p, "name"), "must not be empty");
        }
        if let Some(first) = seen.insert(u.name.clone(), i) {
            d.push(
                &child(&p, "name"),
                format!(
                    "duplicate user `{}` (first defined at users[{first}])",
                    u.name
                ),
            );
        }
        if let Some(h) = &u.password_hash {
            if !password::is_valid_phc(h) {
                d.push(
                    &child(&p, "password_hash"),
                    "not an argon2 PHC string; generate one with `warden hash-password`",
                );
            }
        }
        let scram = u.scram_sha256.as_deref().and_then(|s| {
            let v = ScramVerifier::parse(s);
            if v.is_none() {
                d.push(
                    &child(&p, "scram_sha256"),
                    "not a SCRAM-SHA-256 verifier; use the second line of `warden hash-password`",
                );
            }
            v
        });
        let mut keys = Vec::new();
        for (j, k) in u.ssh_authorized_keys.iter().enumerate() {
            match normalize_ssh_key(k) {
                Some(k) => keys.push(k),
                None => d.push(
                    &format!("{p}.ssh_authorized_keys[{j}]"),
                    "not an OpenSSH public key line (`ssh-ed25519 AAAA... comment`)",
                ),
            }
        }
        let mut token_hashes = Vec::new();
        for (j, t) in u.tokens.iter().enumerate() {
            match hex::decode(t).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()) {
                Some(h) => token_hashes.push(h),
                None => d.push(
                    &format!("{p}.tokens[{j}]"),
                    "must be the SHA-256 of the token as 64 hex digits (`printf %s TOKEN | sha256sum`)",
                ),
            }
        }
        users.push(User {
            name: u.name,
            roles: u.roles,
            password_hash: u.password_hash,
            scram,
            ssh_authorized_keys: keys,
            token_hashes,
        });
    }
    users
}

fn build_targets(
    raw: Vec<(usize, RawTarget)>,
    web: &WebConfig,
    resolve: &dyn Fn(&str) -> PathBuf,
    d: &mut Diags<'_>,
) -> Vec<Arc<TargetConfig>> {
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut listens: BTreeMap<SocketAddr, String> = BTreeMap::new();
    listens.insert(web.listen, "web.listen".into());
    let mut out = Vec::new();
    for (i, t) in raw {
        let p = format!("targets[{i}]");
        let name_ok = !t.name.is_empty()
            && t.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !name_ok {
            d.push(
                &child(&p, "name"),
                "must be non-empty letters, digits, `-`, `_` or `.`",
            );
        }
        if let Some(first) = names.insert(t.name.clone(), i) {
            d.push(
                &child(&p, "name"),
                format!(
                    "duplicate target name `{}` (first defined at targets[{first}])",
                    t.name
                ),
            );
        }
        let protocol = Protocol::parse(&t.protocol);
        if protocol.is_none() {
            d.push_with(
                &child(&p, "protocol"),
                format!(
                    "unknown protocol `{}` (one of: {})",
                    t.protocol,
                    PROTOCOL_WORDS.join(", ")
                ),
                suggest(&t.protocol, PROTOCOL_WORDS),
            );
        }
        if let Some(proto) = protocol {
            if !crate::runtime::frontend_supported(proto) {
                d.push(
                    &child(&p, "protocol"),
                    format!("protocol {proto} is not supported yet"),
                );
            }
        }
        let listen = parse_addr(&t.listen, &child(&p, "listen"), d);
        // Port 0 means "any free port": never a clash.
        if let Some(addr) = listen.filter(|a| a.port() != 0) {
            if let Some(other) = listens.insert(addr, p.clone()) {
                d.push(
                    &child(&p, "listen"),
                    format!("address {addr} is already used by {other}"),
                );
            }
        }
        if t.upstream.trim().is_empty() {
            d.push(&child(&p, "upstream"), "must not be empty");
        }
        let upstream_password = match (&t.upstream_password_env, &t.upstream_password_file) {
            (Some(_), Some(_)) => {
                d.push(
                    &child(&p, "upstream_password_file"),
                    "set either upstream_password_env or upstream_password_file, not both",
                );
                None
            }
            (Some(var), None) => match std::env::var(var) {
                Ok(v) => Some(Secret::new(v)),
                Err(_) => {
                    d.push(
                        &child(&p, "upstream_password_env"),
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
                            &child(&p, "upstream_password_file"),
                            format!("cannot read {}: {}", path.display(), e.kind()),
                        );
                        None
                    }
                }
            }
            (None, None) => None,
        };
        let tls = t.tls.map(|x| build_tls(x, &child(&p, "tls"), resolve, d));
        let upstream_tls = t.upstream_tls.map(|u| {
            let k = child(&p, "upstream_tls");
            let client = match (u.cert, u.key) {
                (Some(c), Some(key)) => Some(build_tls(RawTls { cert: c, key }, &k, resolve, d)),
                (None, None) => None,
                _ => {
                    d.push(&k, "client `cert` and `key` must be given together");
                    None
                }
            };
            UpstreamTls {
                ca: u
                    .ca
                    .map(|c| existing_file(resolve(&c), &child(&k, "ca"), d)),
                client,
                server_name: u.server_name,
            }
        });
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
            postgres: t.postgres.unwrap_or_default(),
            http: t.http.unwrap_or_default(),
            ssh: build_ssh(t.ssh.unwrap_or_default(), &child(&p, "ssh"), resolve, d),
        }));
    }
    out
}
