//! Raw config → typed [`Config`]: resolve paths, parse addresses, read secrets, check
//! cross-references and duplicates. Every problem becomes a diagnostic; nothing stops
//! at the first.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_yaml::Value;

use warden_diagnostic::suggest;

use super::raw::*;
use super::schema::{check_keys, check_nested, child, item, kind, list, Diags};
use super::targets::build_targets;
use super::*;
use crate::users::{is_valid_phc, normalize_ssh_key};

const NOTIFY_EVENTS: &[&str] = &["hold", "decision", "deny", "alert"];

pub(super) fn build(text: &str, file: &str, base: &Path) -> Result<Config, ConfigErrors> {
    let mut d = Diags::new(file, text);
    let Some(map) = top_level(text, &mut d) else {
        return Err(d.into_errors());
    };
    let raw = Sections::read(map, &mut d);
    let resolve = |p: &str| -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    let web = build_web(raw.web.unwrap_or_default(), &resolve, &mut d);
    let audit = raw.audit.unwrap_or_default();
    let audit = AuditPaths {
        path: resolve(audit.path.as_deref().unwrap_or("data/audit")),
        signing_key: resolve(audit.signing_key.as_deref().unwrap_or("data/audit.key")),
        checkpoint_file: audit.checkpoint_file.as_deref().map(&resolve),
        cache_mb: audit_cache_mb(audit.cache_mb, &mut d),
    };
    let policies = resolve_policies(&raw.policies, &resolve, &mut d);
    let users = build_users(raw.users, &mut d);
    let targets = build_targets(raw.targets, &web, &resolve, &mut d);
    let notifications = build_notifications(raw.notifications, &mut d);
    let shutdown_grace = shutdown_grace(raw.shutdown_grace.as_deref(), &mut d);
    let analytics = raw.analytics.unwrap_or_default();
    for problem in analytics.validate() {
        d.push(&problem.path, problem.message);
    }
    let policy_changes = policy_changes(raw.policy_changes.as_deref(), &mut d);
    let policy_review = policy_review(raw.policy_review.unwrap_or_default(), &mut d);
    let fleet = raw
        .fleet
        .map(|f| crate::fleet::build_fleet(f, &resolve, &mut d));
    let oidc = raw
        .oidc
        .map(|o| crate::oidc::build_oidc(o, "oidc", &resolve, &mut d));
    let gateway_tokens = raw
        .gateway_tokens
        .map(|t| crate::gateway_tokens::build(t, "gateway_tokens", &mut d))
        .unwrap_or_default();
    if !d.is_empty() {
        let mut errors = d.into_errors();
        errors.0.sort_by_key(|x| (x.line, x.column));
        return Err(errors);
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
        data_dir: resolve(raw.data_dir.as_deref().unwrap_or("data")),
        shutdown_grace,
        analytics,
        policy_changes,
        policy_review,
        fleet,
        oidc,
        gateway_tokens,
    })
}

/// Each top-level section as written, its shape checked (unknown keys, types) item by
/// item so one bad entry does not hide the others.
struct Sections {
    web: Option<RawWeb>,
    audit: Option<RawAudit>,
    policies: Vec<String>,
    data_dir: Option<String>,
    shutdown_grace: Option<String>,
    users: Vec<(usize, RawUser)>,
    targets: Vec<(usize, RawTarget)>,
    notifications: Vec<(usize, RawNotification)>,
    analytics: Option<warden_analytics::Settings>,
    policy_changes: Option<String>,
    policy_review: Option<crate::drift::PolicyReview>,
    fleet: Option<crate::fleet::RawFleet>,
    oidc: Option<crate::oidc::RawOidc>,
    gateway_tokens: Option<crate::gateway_tokens::RawGatewayTokens>,
}

impl Sections {
    fn read(mut map: serde_yaml::Mapping, d: &mut Diags) -> Sections {
        let mut take = |k: &str| map.remove(k);
        let web = take("web").and_then(|mut v| {
            check_keys(&mut v, "web", RawWeb::KEYS, d);
            check_nested(&mut v, "web", "tls", RawTls::KEYS, d);
            item(v, "web", d)
        });
        let audit = take("audit").and_then(|mut v| {
            check_keys(&mut v, "audit", RawAudit::KEYS, d);
            item(v, "audit", d)
        });
        let target_nested: &[(&str, &[&str])] = &[
            ("tls", RawTls::KEYS),
            ("upstream_tls", RawUpstreamTls::KEYS),
        ];
        Sections {
            web,
            audit,
            policies: take("policies")
                .and_then(|v| item(v, "policies", d))
                .unwrap_or_default(),
            data_dir: take("data_dir").and_then(|v| item(v, "data_dir", d)),
            shutdown_grace: take("shutdown_grace").and_then(|v| item(v, "shutdown_grace", d)),
            users: list(take("users"), "users", RawUser::KEYS, &[], d),
            targets: list(
                take("targets"),
                "targets",
                RawTarget::KEYS,
                target_nested,
                d,
            ),
            notifications: list(
                take("notifications"),
                "notifications",
                RawNotification::KEYS,
                &[],
                d,
            ),
            analytics: take("analytics").and_then(|v| item(v, "analytics", d)),
            policy_changes: take("policy_changes").and_then(|v| item(v, "policy_changes", d)),
            policy_review: take("policy_review").and_then(|mut v| {
                check_keys(&mut v, "policy_review", crate::drift::PolicyReview::KEYS, d);
                item(v, "policy_review", d)
            }),
            fleet: take("fleet").and_then(|mut v| {
                check_keys(&mut v, "fleet", crate::fleet::RawFleet::KEYS, d);
                check_nested(&mut v, "fleet", "tls", RawUpstreamTls::KEYS, d);
                item(v, "fleet", d)
            }),
            oidc: take("oidc").and_then(|v| crate::oidc::read(v, "oidc", d)),
            gateway_tokens: take("gateway_tokens")
                .and_then(|v| crate::gateway_tokens::read(v, "gateway_tokens", d)),
        }
    }
}

/// `policy_changes:` — `alert` (default) or `require_review`.
fn policy_changes(raw: Option<&str>, d: &mut Diags) -> PolicyChanges {
    let Some(word) = raw else {
        return PolicyChanges::default();
    };
    PolicyChanges::parse(word).unwrap_or_else(|| {
        d.push_with(
            "policy_changes",
            format!(
                "unknown value `{word}` (one of: {})",
                PolicyChanges::WORDS.join(", ")
            ),
            suggest(word, PolicyChanges::WORDS),
        );
        PolicyChanges::default()
    })
}

/// `policy_review:` — at least one approver role; at least one approval.
fn policy_review(review: PolicyReview, d: &mut Diags) -> PolicyReview {
    if review.approvers.is_empty() {
        d.push("policy_review.approvers", "name at least one role");
    }
    if review.required == 0 {
        d.push("policy_review.required", "must be at least 1");
    }
    if review.expires_after.is_zero() {
        d.push("policy_review.expires_after", "must be longer than 0s");
    }
    review
}

/// `audit.cache_mb`: the audit store's page cache (default 64 MiB, 1 MiB to 64 GiB).
fn audit_cache_mb(raw: Option<u64>, d: &mut Diags) -> u64 {
    match raw {
        None => DEFAULT_AUDIT_CACHE_MB,
        Some(mb @ 1..=65_536) => mb,
        Some(mb) => {
            d.push(
                "audit.cache_mb",
                format!("{mb} is out of range: give 1 to 65536 (MiB)"),
            );
            DEFAULT_AUDIT_CACHE_MB
        }
    }
}

/// How long `serve` waits for open connections on shutdown (default 10 s).
fn shutdown_grace(raw: Option<&str>, d: &mut Diags) -> Duration {
    let Some(s) = raw else {
        return Duration::from_secs(10);
    };
    parse_duration(s).unwrap_or_else(|| {
        d.push(
            "shutdown_grace",
            format!("`{s}` is not a duration like 30s, 5m or 1h"),
        );
        Duration::from_secs(10)
    })
}

pub(super) fn parse_addr(s: &str, key: &str, d: &mut Diags) -> Option<SocketAddr> {
    match s.parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            d.push(key, format!("`{s}` is not an address like 127.0.0.1:6432"));
            None
        }
    }
}

pub(super) fn existing_file(path: PathBuf, key: &str, d: &mut Diags) -> PathBuf {
    if !path.is_file() {
        d.push(key, format!("no such file: {}", path.display()));
    }
    path
}

/// Anchor the SSH options' paths at the config folder (like every other path in the
/// file) and check that the files Warden only reads exist. The host key may be absent:
/// it is generated on first start.
pub(super) fn build_ssh(
    mut ssh: SshOptions,
    key: &str,
    resolve: &dyn Fn(&str) -> PathBuf,
    d: &mut Diags,
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

pub(super) fn build_tls(
    raw: RawTls,
    key: &str,
    resolve: &dyn Fn(&str) -> PathBuf,
    d: &mut Diags,
) -> TlsFiles {
    TlsFiles {
        cert: existing_file(resolve(&raw.cert), &child(key, "cert"), d),
        key: existing_file(resolve(&raw.key), &child(key, "key"), d),
    }
}

fn build_web(raw: RawWeb, resolve: &dyn Fn(&str) -> PathBuf, d: &mut Diags) -> WebConfig {
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

fn build_users(raw: Vec<(usize, RawUser)>, d: &mut Diags) -> Vec<User> {
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
            if !is_valid_phc(h) {
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
        let mysql_native = u.mysql_native_password.as_deref().and_then(|s| {
            let v = MysqlNativeVerifier::parse(s);
            if v.is_none() {
                d.push(
                    &child(&p, "mysql_native_password"),
                    "not a mysql_native_password verifier (`*` and 40 hex digits); use the third line of `warden hash-password`",
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
            mysql_native,
            ssh_authorized_keys: keys,
            token_hashes,
            service: u.service,
        });
    }
    users
}

/// Parse the text and check the top-level keys; `None` when nothing more can be read.
fn top_level(text: &str, d: &mut Diags) -> Option<serde_yaml::Mapping> {
    let mut root: Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let (line, col) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            d.push_at(line, col, format!("invalid YAML: {e}"));
            return None;
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
        return None;
    }
    check_keys(&mut root, "", RawConfig::KEYS, d);
    match root {
        Value::Mapping(map) => Some(map),
        _ => None,
    }
}

/// `policies:` resolved against the config folder; each must exist.
fn resolve_policies(
    raw: &[String],
    resolve: &dyn Fn(&str) -> PathBuf,
    d: &mut Diags,
) -> Vec<PathBuf> {
    let mut policies = Vec::new();
    for (i, p) in raw.iter().enumerate() {
        let path = resolve(p);
        if !path.exists() {
            d.push(
                &format!("policies[{i}]"),
                format!("no such file or folder: {}", path.display()),
            );
        }
        policies.push(path);
    }
    policies
}

/// `notifications:`: webhook URLs and the events each wants (all when none are named).
fn build_notifications(
    raw: Vec<(usize, RawNotification)>,
    d: &mut Diags,
) -> Vec<NotificationConfig> {
    let mut notifications = Vec::new();
    for (i, n) in raw {
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
    notifications
}
